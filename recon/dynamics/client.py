"""A thin Dataverse Web API client: OData headers, paging, and Dataverse's error parser.

The session and token source come in through the constructor (STYLE principle 8); requests go
through the one ``recon.http.ServiceClient``, so retries follow reference/dataverse.md §3: 429
waits for ``Retry-After`` whatever the method, 5xx/408 back off with jitter for safe methods, a
401 drops the cached token and tries once more.
"""

from __future__ import annotations

import dataclasses
import json as jsonlib
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from recon.dynamics.odata import encode_query
from recon.errors import AuthError, HttpError
from recon.http import PageRequest, Paginator, Service, ServiceClient, paginate
from recon.retry import RetryPolicy

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


def error_of(body: Any, default: str) -> tuple[str | None, str]:
    """(code, message) from a Dataverse ``{"error": {"code", "message"}}`` body: the one parser
    for Dataverse errors, top-level answers and ``$batch`` parts alike."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, default
    return error.get("code") or None, error.get("message") or default


DATAVERSE = Service("Dataverse", error_of, HEADERS, TIMEOUT,
                    "Check DATAVERSE_URL and the network.")


def service_client(session: requests.Session, token_source: Any, retry: RetryPolicy | None,
                   rng: random.Random | None = None,
                   timeout: tuple[float, float] = TIMEOUT) -> ServiceClient:
    """The one sender for a Dataverse environment (429 paced by ``Retry-After`` alone)."""
    service = DATAVERSE if timeout == TIMEOUT else dataclasses.replace(DATAVERSE,
                                                                       timeout=timeout)
    return ServiceClient(session, token_source, service, retry, rng=rng)


class DataverseClient:
    """Requests against one Dataverse environment's Web API (v9.2)."""

    def __init__(self, session: requests.Session, token_source: Any, base_url: str,
                 retry: RetryPolicy | None = None, *, rng: random.Random | None = None,
                 page_size: int = MAX_PAGE_SIZE) -> None:
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.api = base_url.rstrip("/") + API_PATH
        self.http = service_client(session, token_source, retry, rng)

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """An absolute URL under the API root, with an encoded query string."""
        url = path if path.startswith("https://") else self.api + path.lstrip("/")
        return f"{url}?{encode_query(params)}" if params else url

    def request(self, method: str, url: str, *, prefer: Iterable[str] = (),
                json: Any = None, headers: Mapping[str, str] | None = None) -> requests.Response:
        """Send one request with the retry policy; a final error status raises HttpError."""
        response = self.http.send(method, url, json=json, headers=_headers(prefer, headers))
        if response.status_code >= 400:
            raise error_from(response, method, url)
        return response

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
        response, body = self.http.fetch(url, decode.read, _headers(prefer, None))
        if response.status_code >= 400:
            raise error_from(response, "GET", url)
        page = decode(body)
        return page if page is not None else _json(bytes(body), response.status_code, url)

    def pages(self, pages: Paginator, prefer: Iterable[str] = (),
              decode: Decoder | None = None) -> Iterator[Any]:
        """Every page body of a paged read, sending the same ``Prefer`` on each page."""
        preferences = tuple(prefer)
        return paginate(lambda request: self.get_json(request, preferences, decode), pages)


def _headers(prefer: Iterable[str], headers: Mapping[str, str] | None) -> dict[str, str]:
    sent = {}
    preferences = list(prefer)
    if preferences:
        sent["Prefer"] = ",".join(preferences)
    sent.update(headers or {})
    return sent


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
    code, message = DATAVERSE.error_text(response)
    status = response.status_code
    fix = _FIXES.get(status, "Retry later; if it persists, check the Dataverse service health.")
    kind = AuthError if status in (401, 403) else HttpError
    where = url.split("?", 1)[0]
    return kind(f"Dataverse answered {status} to {method} {where}: {message}"
                f"{f' (code {code})' if code else ''}. {fix}", status=status, code=code, url=url)
