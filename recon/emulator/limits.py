"""The services' documented request limits, modelled when ``Faults.rate_limits`` is on.

Strivacity (reference/strivacity.md, "Rate limits"): for ``/admin/api/v1`` 50 requests/s and
500/min per instance and 10/s and 100/min per source IP; over any bucket a 429 *without*
``Retry-After``; every answer carries ``X-Ratelimit-Limit``, ``-Remaining`` and ``-Reset`` with
one item per bucket, matched by position. Dataverse (reference/dataverse.md §3): per user, 6000
requests in a 300 s window and 52 concurrent requests; over either a 429 with ``Retry-After``
and the documented error code and message. Windows are fixed (aligned to the clock), and the
clock is injectable, so tests drive time without waiting. Refused requests use no budget.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from recon.emulator.faults import Faults
from recon.emulator.wire import Response, dataverse_error, problem

REQUESTS_EXCEEDED = "0x80072322"
CONCURRENCY_EXCEEDED = "0x80072326"


@dataclass(frozen=True)
class Window:
    """``limit`` requests per fixed ``seconds``-long window, counted per ``scope``."""

    name: str
    limit: int
    seconds: float
    per_client: bool


class Counter:
    """Fixed-window counts keyed by (window, scope, window index)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._counts: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()

    def take(self, windows: list[Window], client: str) -> tuple[bool, list[tuple[int, int, float]]]:
        """Count one request unless a window is full: (allowed, [(limit, remaining, reset)])."""
        now = self.clock()
        with self._lock:
            state = []
            for window in windows:
                index = math.floor(now / window.seconds)
                key = (window.name, client if window.per_client else "*", index)
                used = self._counts.get(key, 0)
                state.append((key, window, used, (index + 1) * window.seconds - now))
            allowed = all(used < window.limit for _, window, used, _ in state)
            if allowed:
                for key, _, used, _ in state:
                    self._counts[key] = used + 1
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items()
                                if any(k[0] == w.name and k[2] >= math.floor(now / w.seconds)
                                       for w in windows)}
            return allowed, [(w.limit, max(0, w.limit - used - (1 if allowed else 0)), reset)
                             for _, w, used, reset in state]


def strivacity_windows(faults: Faults) -> list[Window]:
    return [Window("instance/s", faults.instance_per_second, 1.0, False),
            Window("instance/min", faults.instance_per_minute, 60.0, False),
            Window("ip/s", faults.ip_per_second, 1.0, True),
            Window("ip/min", faults.ip_per_minute, 60.0, True)]


def ratelimit_headers(state: list[tuple[int, int, float]],
                      windows: list[Window]) -> list[tuple[str, str]]:
    """One item per bucket in each of the three headers, in the same order."""
    return [("X-Ratelimit-Limit", ", ".join(f"{w.limit};w={w.seconds:g}" for w in windows)),
            ("X-Ratelimit-Remaining", ", ".join(str(left) for _, left, _ in state)),
            ("X-Ratelimit-Reset", ", ".join(str(max(1, math.ceil(reset)))
                                            for _, _, reset in state))]


class Limits:
    """Decides, per request, whether a service's limits let it through."""

    def __init__(self, faults: Faults, clock: Callable[[], float]) -> None:
        self.faults = faults
        self.counter = Counter(clock)
        self._in_flight = 0
        self._lock = threading.Lock()

    def strivacity(self, client: str) -> tuple[Response | None, list[tuple[str, str]]]:
        """(a 429 to answer instead, or None) and the headers every answer carries."""
        windows = strivacity_windows(self.faults)
        allowed, state = self.counter.take(windows, client)
        headers = ratelimit_headers(state, windows)
        if allowed:
            return None, headers
        return problem(429, "Too Many Requests", "Rate limit exceeded.", "rateLimitExceeded",
                       headers), headers

    def dataverse(self, user: str) -> Response | None:
        """A service-protection 429 (with Retry-After) or None."""
        faults = self.faults
        window = Window("dataverse", faults.dataverse_requests, faults.dataverse_window, True)
        with self._lock:
            busy = self._in_flight > faults.dataverse_concurrent  # this request is counted
        if busy:
            return dataverse_error(429, CONCURRENCY_EXCEEDED, "Number of concurrent requests "
                                   f"exceeded the limit of {faults.dataverse_concurrent}.",
                                   [("Retry-After", "1")])
        allowed, state = self.counter.take([window], user)
        if allowed:
            return None
        return dataverse_error(429, REQUESTS_EXCEEDED, "Number of requests exceeded the limit "
                               f"of {window.limit} over time window of {window.seconds:g} "
                               "seconds.", [("Retry-After", str(max(1, math.ceil(state[0][2]))))])

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Count a Dataverse request as running while it is checked and served."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
