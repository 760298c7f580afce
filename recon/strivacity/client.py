"""A thin Strivacity Admin API client: client-credentials token, retries, page/size paging.

Token: ``POST <tenant>/oauth2/token`` with HTTP Basic ``client_id:client_secret`` and
``grant_type=client_credentials`` (reference/strivacity.md §3.2). Accounts:
``GET /admin/api/v1/identityStores/{store}/accounts?page=&size=``, a bare JSON array per page,
read until a short page (§3.3). Requests go through the one ``recon.http.ServiceClient``, paced
inside the Admin API's limits ("Rate limits": 10/s and 100/min per source IP) and from its
``X-Ratelimit-*`` headers; the same retry policy and paging shape as Dataverse.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests

from recon.errors import AuthError, HttpError
from recon.http import PageRequest, Paginator, Service, ServiceClient, paginate
from recon.ratelimit import Pacer, strivacity_budgets
from recon.retry import RetryPolicy
from recon.settings import StrivacitySettings

TOKEN_PATH = "/oauth2/token"
SCOPE = "read:account"
TIMEOUT = (10.0, 120.0)
#: Requests a second by default (and ten times that a minute): the documented per-IP limits.
DEFAULT_RATE = 10.0
_EARLY = 60.0  # renew this many seconds before the token expires


class StrivacityTokens:
    """Client-credentials access tokens, cached until shortly before they expire."""

    def __init__(self, settings: StrivacitySettings, session: requests.Session,
                 scope: str = SCOPE) -> None:
        self._settings, self._session, self._scope = settings, session, scope
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._token, lifetime = self._request()
                self._expires = time.monotonic() + max(0.0, lifetime - _EARLY)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _request(self) -> tuple[str, float]:
        url = self._settings.url + TOKEN_PATH
        auth = (self._settings.client_id, self._settings.client_secret.reveal())
        data = {"grant_type": "client_credentials", "audience": self._settings.url,
                "scope": self._scope}
        try:
            response = self._session.post(url, data=data, auth=auth, timeout=TIMEOUT,
                                          headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise AuthError(f"Cannot reach the Strivacity token endpoint {url}: {exc}. Check "
                            "STRIVACITY_URL and REQUESTS_CA_BUNDLE.", url=url) from exc
        body = _json(response)
        if response.status_code >= 400 or "access_token" not in body:
            raise AuthError(f"Strivacity refused a token ({response.status_code}: "
                            f"{body.get('error') or body.get('title') or response.reason}). "
                            "Check STRIVACITY_CLIENT_ID/SECRET and that the client is assigned "
                            f"a REST API access policy with {self._scope}.",
                            status=response.status_code, code=body.get("error"), url=url)
        return str(body["access_token"]), float(body.get("expires_in") or 300)


@dataclass
class PageSizePages:
    """Strivacity paging: ``page`` from 0 with a fixed ``size``, until a short page."""

    url: str
    params: Mapping[str, str]
    size: int
    page: int = 0

    def first(self) -> PageRequest:
        self.page = 0
        return self._request()

    def advance(self, body: Any) -> PageRequest | None:
        if not isinstance(body, list) or len(body) < self.size:
            return None
        self.page += 1
        return self._request()

    def _request(self) -> PageRequest:
        return PageRequest(self.url, {**self.params, "page": str(self.page),
                                      "size": str(self.size)})


def error_of(body: Any, default: str) -> tuple[str | None, str]:
    """(code, message) from an RFC 7807 problem body (``errorKey``, ``detail``, ``title``): the
    one parser for Strivacity errors, answers and bulk-job line errors alike."""
    if not isinstance(body, dict):
        return None, default
    code = body.get("errorKey") or body.get("code") or body.get("message") or body.get("error")
    return code or None, body.get("detail") or body.get("title") or default


STRIVACITY = Service("Strivacity", error_of, {"Accept": "application/json"}, TIMEOUT,
                     "Check STRIVACITY_URL and the network.")


def service_client(session: requests.Session, token_source: Any, retry: RetryPolicy | None,
                   *, rate: float = DEFAULT_RATE, rng: random.Random | None = None,
                   clock: Callable[[], float] = time.monotonic,
                   timeout: tuple[float, float] = TIMEOUT) -> ServiceClient:
    """The one sender for a Strivacity tenant, paced inside its per-IP limits.

    ``rate`` requests a second and ten times that a minute (10/s and 100/min by default, the
    documented per-IP limits); the answers' ``X-Ratelimit-*`` headers hold requests while a
    bucket is empty, and give the wait after a 429 (which carries no ``Retry-After``).
    """
    service = STRIVACITY if timeout == TIMEOUT else dataclasses.replace(STRIVACITY,
                                                                        timeout=timeout)
    return ServiceClient(session, token_source, service, retry,
                         pacer=Pacer(strivacity_budgets(rate)), rng=rng, clock=clock)


class StrivacityClient:
    """Requests against one Strivacity tenant's Admin API."""

    def __init__(self, session: requests.Session, token_source: Any, base_url: str,
                 retry: RetryPolicy | None = None, *, rng: random.Random | None = None,
                 rate: float = DEFAULT_RATE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base = base_url.rstrip("/")
        self.http = service_client(session, token_source, retry, rate=rate, rng=rng,
                                   clock=clock)

    def accounts_url(self, store: str) -> str:
        return f"{self.base}/admin/api/v1/identityStores/{quote(store, safe='')}/accounts"

    def get_json(self, request: PageRequest) -> Any:
        """GET one page with the retry policy; a final error raises HttpError."""
        url = request.url
        if request.params:
            url = f"{url}?{urlencode(dict(request.params), quote_via=quote, safe=',')}"
        response = self.http.send("GET", url)
        if response.status_code >= 400:
            raise error_from(response, url)
        return _json(response, strict=True)

    def pages(self, pages: Paginator) -> Any:
        return paginate(self.get_json, pages)


def _json(response: requests.Response, strict: bool = False) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        if strict:
            raise HttpError(f"Strivacity answered {response.url} with something that is not "
                            "JSON. Check STRIVACITY_URL is the tenant URL.",
                            status=response.status_code, url=response.url) from exc
        return {}


def error_from(response: requests.Response, url: str) -> HttpError:
    """An HttpError (AuthError for 401/403) from Strivacity's problem body."""
    code, detail = STRIVACITY.error_text(response)
    status = response.status_code
    kind = AuthError if status in (401, 403) else HttpError
    fix = ("Assign the API client a REST API access policy with read:account."
           if status in (401, 403) else "Check STRIVACITY_URL and STRIVACITY_STORE, then retry.")
    if status == 429:
        fix = ("Strivacity kept throttling (10 requests/s and 100/min per source IP by "
               "default); run again later, or ask Strivacity support to raise the limits.")
    return kind(f"Strivacity answered {status} to GET {url.split('?', 1)[0]}: {detail}"
                f"{f' ({code})' if code else ''}. {fix}", status=status, code=code, url=url)
