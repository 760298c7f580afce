"""A thin Dataverse Web API client: OData headers, bearer token, retries, paging, errors.

The session and token source come in through the constructor (STYLE principle 8). Retries
follow reference/dataverse.md §3: 429 waits for ``Retry-After`` whatever the method, 5xx/408
back off with jitter for safe methods, a 401 drops the cached token and tries once more.
"""

from __future__ import annotations

import json as jsonlib
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from recon.dynamics.odata import encode_query
from recon.errors import AuthError, HttpError
from recon.http import PageRequest, Paginator, paginate
from recon.retry import RetryPolicy, send_with_retries

API_PATH = "/api/data/v9.2/"
MAX_PAGE_SIZE = 5000
HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
TIMEOUT = (10.0, 120.0)

_FIXES = {
    400: "Check the query (column names, filter syntax) and try again.",
    401: "Check that the app has an application user in this Dataverse environment.",
    403: "Give the application user a security role that can read (and write) contacts.",
    404: "Check DATAVERSE_URL and that the record still exists.",
    412: "The record changed since it was read; pull again and retry.",
    429: "Dataverse kept throttling; try again later or with fewer --streams.",
}


class Decoder(Protocol):
    """Reads page bodies its own way: ``read`` takes the body off a streamed 2xx response (a
    bytes-like result), while a cut-off body can still be retried; the call turns it into a
    page dict, or None to leave it to ``json``."""

    def read(self, response: requests.Response) -> Any: ...

    def __call__(self, body: Any) -> Any: ...


@dataclass
class NextLinkPages:
    """Paging by ``@odata.nextLink``, followed verbatim; remembers the last ``deltaLink``."""

    start: PageRequest
    delta_link: str | None = None

    def first(self) -> PageRequest:
        return self.start

    def advance(self, body: Any) -> PageRequest | None:
        self.delta_link = body.get("@odata.deltaLink", self.delta_link)
        link = body.get("@odata.nextLink")
        return PageRequest(link) if link else None


class DataverseClient:
    """Requests against one Dataverse environment's Web API (v9.2)."""

    def __init__(self, session: requests.Session, token_source: Any, base_url: str,
                 retry: RetryPolicy | None = None, *, rng: random.Random | None = None,
                 page_size: int = MAX_PAGE_SIZE) -> None:
        self._session = session
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._tokens = token_source
        self.api = base_url.rstrip("/") + API_PATH
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """An absolute URL under the API root, with an encoded query string."""
        url = path if path.startswith("https://") else self.api + path.lstrip("/")
        return f"{url}?{encode_query(params)}" if params else url

    def request(self, method: str, url: str, *, prefer: Iterable[str] = (),
                json: Any = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """Send one request with the retry policy; a final error status raises HttpError."""
        return self._retried(method, url, lambda: self._send(method, url, prefer, json, headers))

    def _retried(self, method: str, url: str, send: Callable[[], Any]) -> Any:
        """``send`` under the retry policy: the answer, or HttpError for none or an error."""
        answer, tries = send_with_retries(self._retry, method, send, rng=self._rng,
                                          renew=self._tokens.invalidate)
        if answer is None:
            raise HttpError(f"No answer from Dataverse for {method} {url} after {tries} tries. "
                            "Check DATAVERSE_URL and the network.", url=url)
        if answer.status_code >= 400:
            raise error_from(answer.response if isinstance(answer, _Read) else answer, method,
                             url)
        return answer

    def _send(self, method: str, url: str, prefer: Iterable[str], json: Any,
              headers: Mapping[str, str] | None, *, stream: bool = False
              ) -> requests.Response | None:
        """One try; None when the request got no answer (connection reset, timeout).

        ``stream`` leaves the body unread (requests reads it whole otherwise)."""
        sent = {**HEADERS, "Authorization": f"Bearer {self._tokens.token()}"}
        preferences = list(prefer)
        if preferences:
            sent["Prefer"] = ",".join(preferences)
        sent.update(headers or {})
        try:
            return self._session.request(method, url, headers=sent, json=json, timeout=TIMEOUT,
                                         stream=stream)
        except requests.exceptions.SSLError as exc:
            raise HttpError(f"TLS failure talking to {url}: {exc}. Set REQUESTS_CA_BUNDLE to "
                            "the CA bundle that signs this server.", url=url) from exc
        except (requests.ConnectionError, requests.Timeout):
            return None

    def get_json(self, request: PageRequest, prefer: Iterable[str] = (),
                 decode: Decoder | None = None) -> Any:
        """GET one page (the URL verbatim when no params are given) and decode its JSON.

        ``decode`` reads the body and decodes it first (returning None to decline); ``json``
        otherwise.
        """
        url = self.url(request.url, request.params)
        if decode is None:
            response = self.request("GET", url, prefer=prefer)
            return _json(response.content, response.status_code, url)
        read = self._retried("GET", url, lambda: self._read(url, prefer, decode))
        page = decode(read.body)
        return page if page is not None else _json(bytes(read.body), read.status_code, url)

    def _read(self, url: str, prefer: Iterable[str], decode: Decoder) -> _Read | None:
        """One try of a GET whose 2xx body ``decode`` reads; None when no whole answer came."""
        response = self._send("GET", url, prefer, None, None, stream=True)
        if response is None:
            return None
        try:
            if response.status_code >= 400:
                return _Read(response, response.content)  # small; frees the connection
            return _Read(response, decode.read(response))
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError):
            return None  # cut off mid-body: tried again like an answer that never came
        finally:
            response.close()

    def pages(self, pages: Paginator, prefer: Iterable[str] = (),
              decode: Decoder | None = None) -> Iterator[Any]:
        """Every page body of a paged read, sending the same ``Prefer`` on each page."""
        preferences = tuple(prefer)
        return paginate(lambda request: self.get_json(request, preferences, decode), pages)


@dataclass(frozen=True)
class _Read:
    """A response whose body was read by a ``Decoder`` (``response.content`` stays unread)."""

    response: requests.Response
    body: Any

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers


def _json(content: bytes, status: int, url: str) -> Any:
    try:
        return jsonlib.loads(content)
    except ValueError as exc:
        raise HttpError(f"Dataverse answered {url} with something that is not JSON. Check "
                        "DATAVERSE_URL points at the environment, not a portal.",
                        status=status, url=url) from exc


def page_size_preference(size: int = MAX_PAGE_SIZE) -> str:
    """``odata.maxpagesize`` clamped to what Dataverse honours (5000)."""
    return f"odata.maxpagesize={max(1, min(size, MAX_PAGE_SIZE))}"


def error_from(response: requests.Response, method: str, url: str) -> HttpError:
    """An HttpError (AuthError for 401/403) carrying Dataverse's own error code and message."""
    code, message = None, response.reason or ""
    try:
        error = response.json().get("error", {})
        code, message = error.get("code") or None, error.get("message") or message
    except (ValueError, AttributeError):
        pass
    status = response.status_code
    fix = _FIXES.get(status, "Retry later; if it persists, check the Dataverse service health.")
    kind = AuthError if status in (401, 403) else HttpError
    where = url.split("?", 1)[0]
    return kind(f"Dataverse answered {status} to {method} {where}: {message}"
                f"{f' (code {code})' if code else ''}. {fix}", status=status, code=code, url=url)
