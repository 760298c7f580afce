"""The one network seam: sessions, the service client every sender uses, and paging.

``build_session`` is the one place that builds ``requests`` sessions. ``ServiceClient`` (after
httpx's ``Client(transport=...)``) is the one place a request to Dataverse or Strivacity is
sent: it adds the bearer token (a 401 renews it once), paces, sends, asks the one
``RetryPolicy`` whether and when to try again, sleeps, and reads errors with the service's own
parser. Callers never loop on top of it. A paginator is a tiny object: ``first()`` gives the
first request, ``advance(body)`` the next one or None; ``paginate`` is the one loop that drives
it (STYLE principles 8-10).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from recon.errors import HttpError
from recon.ratelimit import Pacer
from recon.retry import THROTTLED, TRANSIENT, RetryPolicy


def _version() -> str:
    # Read from the installed metadata: importing recon here would be circular.
    try:
        return version("recon")
    except PackageNotFoundError:
        return "dev"


USER_AGENT = f"recon/{_version()} python-requests/{requests.__version__}"


class _Session(requests.Session):
    """A session whose own TLS trust wins over ``REQUESTS_CA_BUNDLE`` read at request time.

    Plain requests lets the environment variable override ``session.verify`` on every call;
    recon reads the bundle once into settings, so the session must keep what it was given.
    """

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            merged["verify"] = self.verify
        return merged


def build_session(ca_bundle: str | None = None, *, streams: int = 1,
                  user_agent: str = USER_AGENT) -> requests.Session:
    """A session trusting ``ca_bundle`` (default: the system store) pooled for ``streams``.

    The pool holds a few connections more than the parallel streams, for the token endpoint.
    """
    session = _Session()
    if ca_bundle:
        session.verify = ca_bundle
    session.headers["User-Agent"] = user_agent
    size = max(1, streams) + 2
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


ErrorParser = Callable[[Any, str], tuple[str | None, str]]
#: What a caller makes of an answer: None keeps it, (status, Retry-After) asks to try again.
Verdict = tuple[int, str | None] | None


@dataclass(frozen=True)
class Service:
    """What differs between the services: name, headers, how errors read, what to check."""

    name: str
    error_of: ErrorParser  # (code, message) from an error body; the default message otherwise
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: tuple[float, float] = (10.0, 120.0)
    check: str = "Check the service URL and the network."

    def error_text(self, response: requests.Response) -> tuple[str | None, str]:
        """(code, message) of an error answer, by this service's parser."""
        default = response.reason or f"HTTP {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            return None, default
        return self.error_of(body, default)

    def refused(self, response: requests.Response, what: str, fix: str) -> HttpError:
        """An HttpError for a request this service refused as a whole (exit 4)."""
        code, message = self.error_text(response)
        return HttpError(f"{self.name} answered {response.status_code} to {what}: {message}"
                         f"{f' ({code})' if code else ''}. {fix}", status=response.status_code,
                         code=code, url=response.url)


def _keep_success(response: requests.Response) -> Verdict:
    if response.status_code < 400:
        return None
    return response.status_code, response.headers.get("Retry-After")


class ServiceClient:
    """Requests to one service: token, pacing, one retry loop, errors read its way.

    ``send`` returns the final answer whatever its status (a 409 or 412 is an outcome for
    apply, not a crash) and raises HttpError only when no answer came at all. Idempotent
    requests (GET, PUT, DELETE, or ``idempotent=True`` for writes whose repetition cannot
    write twice) are retried on 5xx/408/lost answers; any request is retried on 429, which
    was refused before anything was done. Any other request that met a 5xx or a lost answer
    is retried only when ``settle()`` reads the target and finds it was not accepted.
    """

    def __init__(self, session: requests.Session, tokens: Any, service: Service,
                 retry: RetryPolicy | None = None, *, pacer: Pacer | None = None,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session, self.tokens, self.service = session, tokens, service
        self.retry = retry or RetryPolicy()
        self.pacer = pacer or Pacer()
        self._rng, self._clock = rng or random.Random(), clock

    def sleep(self, seconds: float) -> None:
        """The one sleep (the policy's seam), for waits a caller must make (job polling)."""
        if seconds > 0:
            self.retry.sleep(seconds)

    def send(self, method: str, url: str, *, data: bytes | Callable[[], bytes] | None = None,
             json: Any = None, headers: Mapping[str, str] | None = None,
             idempotent: bool = False, settle: Callable[[], bool] | None = None,
             again: Callable[[requests.Response], Verdict] | None = None
             ) -> requests.Response:
        """The final answer to ``method url``.

        ``data`` may be a function building the body of each try (a ``$batch`` resends only
        its unsettled parts); ``again`` judges an answer (default: an error status is tried
        again if the policy says so).
        """
        answer, _ = self._exchange(method, url, lambda: self._once(method, url, data, json,
                                                                   headers, None),
                                   idempotent, settle, again or _keep_success)
        return answer

    def fetch(self, url: str, read: Callable[[requests.Response], Any],
              headers: Mapping[str, str] | None = None) -> tuple[requests.Response, Any]:
        """GET ``url`` streamed: ``read`` takes a 2xx body inside the try, so a body cut off
        mid-way is asked for again like an answer that never came."""
        return self._exchange("GET", url, lambda: self._once("GET", url, None, None, headers,
                                                             read),
                              True, None, _keep_success)

    def _exchange(self, method: str, url: str,
                  once: Callable[[], tuple[requests.Response | None, Any]], idempotent: bool,
                  settle: Callable[[], bool] | None,
                  again: Callable[[requests.Response], Verdict]
                  ) -> tuple[requests.Response, Any]:
        waited, attempt, renewed = 0.0, 0, False
        while True:
            response, body = once()
            reset = None if response is None else \
                self.pacer.observe(response.headers, self._clock())
            if response is not None and response.status_code == 401 and not renewed:
                self.tokens.invalidate()
                renewed = True
                continue
            verdict = (None, None) if response is None else again(response)
            if verdict is None:
                return response, body  # type: ignore[return-value]  # answered and kept
            status, retry_after = verdict
            delay = self._delay(method, status, retry_after, attempt, waited, reset,
                                idempotent, settle)
            if delay is None:
                if response is None:
                    raise HttpError(f"No answer from {self.service.name} for {method} "
                                    f"{url.split('?', 1)[0]} after {attempt + 1} tries. "
                                    f"{self.service.check}", url=url)
                return response, body
            self.sleep(delay)
            waited += delay
            attempt += 1

    def _delay(self, method: str, status: int | None, retry_after: str | None, attempt: int,
               waited: float, reset: float | None, idempotent: bool,
               settle: Callable[[], bool] | None) -> float | None:
        """The policy's answer; an unsafe request's unknown outcome is settled first."""
        args = (method, status, retry_after, attempt, waited, self._rng)
        delay = self.retry.wait(*args, reset=reset, idempotent=idempotent)
        unknown = status is None or status in TRANSIENT
        if delay is not None or settle is None or status == THROTTLED or not unknown:
            return delay
        delay = self.retry.wait(*args, reset=reset, idempotent=True)
        if delay is None:
            return None  # out of tries anyway: the caller settles the unknown outcome
        return delay if settle() else None  # settle(): True when the target shows no effect

    def _once(self, method: str, url: str, data: bytes | Callable[[], bytes] | None, json: Any,
              headers: Mapping[str, str] | None,
              read: Callable[[requests.Response], Any] | None
              ) -> tuple[requests.Response | None, Any]:
        """One try: (answer, body read by ``read``), or (None, None) when no answer came."""
        self.sleep(self.pacer.wait(self._clock()))
        sent = {**self.service.headers, **(headers or {}),
                "Authorization": f"Bearer {self.tokens.token()}"}
        body = data() if callable(data) else data
        self.pacer.sent(self._clock())
        try:
            response = self.session.request(method, url, data=body, json=json, headers=sent,
                                            timeout=self.service.timeout,
                                            stream=read is not None)
        except requests.exceptions.SSLError as exc:
            raise HttpError(f"TLS failure talking to {url}: {exc}. Set REQUESTS_CA_BUNDLE to "
                            "the CA bundle that signs this server.", url=url) from exc
        except (requests.ConnectionError, requests.Timeout):
            return None, None
        if read is None:
            return response, None
        try:
            if response.status_code >= 400:
                return response, response.content  # small; frees the connection
            return response, read(response)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError):
            return None, None  # cut off mid-body: tried again like an answer that never came
        finally:
            response.close()


@dataclass(frozen=True)
class PageRequest:
    """One GET of a paged read: an absolute URL and the query parameters to add (if any)."""

    url: str
    params: Mapping[str, str] | None = None


class Paginator(Protocol):
    """First request, then the next one derived from each response body."""

    def first(self) -> PageRequest: ...

    def advance(self, body: Any) -> PageRequest | None: ...


def paginate(fetch: Callable[[PageRequest], Any], pages: Paginator) -> Iterator[Any]:
    """Yield each page body, asking the paginator for the next request until it says stop.

    A page is released before the next is fetched, so at most one page of JSON is alive.
    """
    request: PageRequest | None = pages.first()
    while request is not None:
        body = fetch(request)
        request = pages.advance(body)
        yield body
        del body
