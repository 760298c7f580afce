"""The HTTPS server: a threading HTTP/1.1 server on loopback that routes to the three services.

TLS handshakes happen in the per-connection thread, connections are kept alive (as msal and
requests expect), and every answered request is logged for tests. Limits and faults are
applied here, before a service sees the request (or, for a lost answer, after it acted), so
every service gets them the same way.
"""

from __future__ import annotations

import ssl
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Protocol

from recon.emulator.faults import Fault, FaultDice
from recon.emulator.limits import Limits
from recon.emulator.wire import (
    DROP,
    Request,
    Response,
    bearer,
    dataverse_error,
    json_response,
    problem,
)


class Service(Protocol):
    def handles(self, path: str) -> bool: ...
    def handle(self, request: Request) -> Response: ...


class Served(NamedTuple):
    """One request the emulator answered."""

    method: str
    path: str
    status: int


class RequestLog:
    """What was served, newest last (bounded), with a counter tests can query."""

    def __init__(self, limit: int = 100_000) -> None:
        self._entries: deque[Served] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, entry: Served) -> None:
        with self._lock:
            self._entries.append(entry)

    def __iter__(self) -> Iterator[Served]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def count(self, method: str | None = None, path: str = "", status: int | None = None) -> int:
        """How many requests matched the method, a path prefix and the status."""
        return sum(1 for e in self if (method is None or e.method == method)
                   and e.path.startswith(path) and (status is None or e.status == status))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class App:
    """Routes a request to the service that owns its path, after latency, limits and faults."""

    def __init__(self, services: list[tuple[Service, str]], dice: FaultDice,
                 log: RequestLog, clock: Callable[[], float] = time.monotonic) -> None:
        self.services = services  # (service, error shape: "dataverse" | "strivacity" | "none")
        self.dice = dice
        self.log = log
        self.limits = Limits(dice.faults, clock)
        self.lost = 0  # answers lost on purpose (Faults.lose_answers)
        self.lost_event = threading.Event()  # set when an answer is lost (a ready signal)
        self.release = threading.Event()  # lets held answers go (Faults.lose_how = "hold")
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if self.dice.faults.latency > 0:
            time.sleep(self.dice.faults.latency)
        response = self._answer(request)
        self.log.add(Served(request.method, request.path, response.status))
        return response

    def _answer(self, request: Request) -> Response:
        for service, shape in self.services:
            if not service.handles(request.path):
                continue
            api = shape != "none" and request.path != "/oauth2/token"
            if not (api and self.dice.faults.rate_limits):
                return self._serve(service, shape, request, api)
            if shape == "dataverse":
                with self.limits.in_flight():
                    refusal = self.limits.dataverse(bearer(request) or "")
                    return refusal or self._serve(service, shape, request, api)
            refusal, headers = self.limits.strivacity(request.client)
            if refusal is not None:
                return refusal
            response = self._serve(service, shape, request, api)
            response.headers = [*response.headers, *headers]
            return response
        return json_response(404, {"error": "not_found",
                                   "error_description": f"Nothing is served at {request.path}."})

    def _serve(self, service: Service, shape: str, request: Request, api: bool) -> Response:
        fault = self.dice.roll() if api else None
        if fault is not None:
            return _fault_response(fault, shape)
        if self.dice.faults.lose_how == "refuse" and self._losing(request, 200):
            return problem(503, "Service Unavailable", "Refused before anything was done "
                           "(injected).", "serverError")
        try:
            response = service.handle(request)
        except Exception:  # a bug in the emulator must not hang the client
            traceback.print_exc(file=sys.stderr)
            return dataverse_error(500, "0x80040216", "An unexpected error occurred.")
        return self._lose(request, response)

    def _losing(self, request: Request, status: int) -> bool:
        """Whether this write's answer is one ``Faults.lose_answers`` asks to lose (counted)."""
        faults = self.dice.faults
        if not (faults.lose_answers > 0 and request.method == "POST" and status < 300
                and request.path.endswith("/" + faults.lose_path)):
            return False
        with self._lock:
            if faults.lose_answers <= 0:
                return False
            faults.lose_answers -= 1
            self.lost += 1
        self.lost_event.set()
        return True

    def _lose(self, request: Request, response: Response) -> Response:
        """Lose the answer to an accepted write when ``Faults.lose_answers`` asks for it."""
        faults = self.dice.faults
        if faults.lose_how == "refuse" or not self._losing(request, response.status):
            return response
        if faults.lose_how == "hold":
            self.release.wait(60)
        if faults.lose_how in ("hold", "drop"):
            return Response(DROP)
        return problem(500, "Internal Server Error", "The request failed after it was "
                       "accepted (injected).", "serverError")


def _fault_response(fault: Fault, shape: str) -> Response:
    headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
    if fault.status == 429:
        if shape == "dataverse":
            return dataverse_error(429, "0x80072322", "Number of requests exceeded the limit of "
                                   "6000 over time window of 300 seconds.", headers)
        return problem(429, "Too Many Requests", "Rate limit exceeded; retry after the "
                       "Retry-After seconds.", "rateLimitExceeded", headers)
    if shape == "dataverse":
        return dataverse_error(fault.status, "0x80040216" if fault.status == 500 else "",
                               "An unexpected error occurred." if fault.status == 500 else
                               "The service is temporarily unavailable. Try again later.")
    return problem(fault.status, "Service Unavailable" if fault.status == 503 else
                   "Internal Server Error", "Injected fault; retry later.", "serverError")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections close after this
    server: _TlsServer

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): ", ".join(self.headers.get_all(name) or [])
                   for name in set(self.headers.keys())}
        response = self.server.app(Request(self.command, path, query, headers, body,
                                           str(self.client_address[0])))
        if response.status == DROP:
            self.close_connection = True  # the client sees the connection end, no answer
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Quiet: the request log is in ``App.log``."""


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, context: ssl.SSLContext, app: App) -> None:
        self.context = context
        self.app = app
        self.connections = 0  # TLS handshakes completed: clients should keep connections alive
        self._counting = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(60)
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return  # a client that does not trust the CA, or went away
        with self._counting:
            self.connections += 1
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped connections are normal for a test server; stay quiet."""


def start_server(port: int, cert: str, key: str, app: App) -> tuple[_TlsServer, threading.Thread]:
    """Bind 127.0.0.1:``port`` (0 picks one) with TLS and serve in a daemon thread."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _TlsServer(port, context, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="recon-emulator", daemon=True)
    thread.start()
    return server, thread
