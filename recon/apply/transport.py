"""Sending one write request with a bearer token and the retry policy, for both services.

The read clients (``DataverseClient``, ``StrivacityClient``) raise on error statuses; apply
needs the error answer itself (a 412 or 409 is an outcome, not a crash), so this sender
returns the last response and raises only when no answer came at all.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from typing import Any

import requests

from recon.errors import HttpError
from recon.retry import RetryPolicy, send_with_retries

TIMEOUT = (10.0, 300.0)


class Transport:
    """Requests to one service: token per request, 401 renews once, 429/5xx per the policy."""

    def __init__(self, session: requests.Session, tokens: Any, retry: RetryPolicy,
                 service: str, rng: random.Random | None = None) -> None:
        self._session, self._tokens, self.retry = session, tokens, retry
        self.service = service
        self._rng = rng or random.Random()

    def send(self, method: str, url: str, *, data: bytes | None = None, json: Any = None,
             headers: Mapping[str, str] | None = None,
             idempotent: bool = False) -> requests.Response:
        """The final answer to ``method url``; ``idempotent`` lets 5xx retry a POST/PATCH.

        Only pass ``idempotent`` for requests whose repetition cannot write twice (If-Match
        updates, creates carrying their own id): the policy never retries them otherwise.
        """
        policy = self.retry
        if idempotent:
            policy = dataclasses.replace(policy, safe_methods=policy.safe_methods | {method})
        answer, tries = send_with_retries(
            policy, method, lambda: self._once(method, url, data, json, headers),
            rng=self._rng, renew=self._tokens.invalidate)
        if answer is None:
            raise HttpError(f"No answer from {self.service} for {method} {url} after {tries} "
                            "tries. Check the service URL and the network, then run apply "
                            "again: the journal resumes where it stopped.", url=url)
        return answer

    def _once(self, method: str, url: str, data: bytes | None, json: Any,
              headers: Mapping[str, str] | None) -> requests.Response | None:
        sent = {"Accept": "application/json", **(headers or {}),
                "Authorization": f"Bearer {self._tokens.token()}"}
        try:
            return self._session.request(method, url, data=data, json=json, headers=sent,
                                         timeout=TIMEOUT)
        except requests.exceptions.SSLError as exc:
            raise HttpError(f"TLS failure talking to {url}: {exc}. Set REQUESTS_CA_BUNDLE to "
                            "the CA bundle that signs this server.", url=url) from exc
        except (requests.ConnectionError, requests.Timeout):
            return None


def error_text(response: requests.Response) -> tuple[str | None, str]:
    """(code, message) from a Dataverse ``{"error": ...}`` or a Strivacity problem body."""
    try:
        body = response.json()
    except ValueError:
        return None, response.reason or f"HTTP {response.status_code}"
    return error_of(body, response.reason or f"HTTP {response.status_code}")


def error_of(body: Any, default: str) -> tuple[str | None, str]:
    """(code, message) from an error body of either service."""
    if not isinstance(body, dict):
        return None, default
    if isinstance(body.get("error"), dict):
        error = body["error"]
        return error.get("code") or None, error.get("message") or default
    code = body.get("errorKey") or body.get("code")
    return code, body.get("detail") or body.get("title") or default


def refused(service: str, response: requests.Response, what: str, fix: str) -> HttpError:
    """An HttpError for a whole request the service refused (exit 4)."""
    code, message = error_text(response)
    return HttpError(f"{service} answered {response.status_code} to {what}: {message}"
                     f"{f' ({code})' if code else ''}. {fix}", status=response.status_code,
                     code=code, url=response.url)
