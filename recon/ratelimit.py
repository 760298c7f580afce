"""Pacing: stay inside a service's request budgets, and follow what its headers say is left.

Strivacity's Admin API allows 10 requests/s and 100/min per source IP (50/s and 500/min per
instance) and throttles with 429 *without* ``Retry-After``; every answer carries one
``X-Ratelimit-Limit``, ``X-Ratelimit-Remaining`` and ``X-Ratelimit-Reset`` value per bucket,
matched by position (reference/strivacity.md, "Rate limits"). ``Pacer`` keeps a sliding window
of its own sends per configured budget and the deadline of every bucket the server reported
empty; ``wait(now)`` is the pure answer "how long before the next request may leave". The
caller (``recon.http.ServiceClient``) is the one place that sleeps.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """At most ``limit`` requests in any ``window`` seconds."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError(f"a budget needs limit >= 1 and window > 0, not {self}")


@dataclass(frozen=True)
class Bucket:
    """One server-reported bucket: its limit (and window, if given), what is left, and the
    seconds until it resets."""

    limit: int | None
    window: float | None
    remaining: int
    reset: float


#: Strivacity's documented per-source-IP limits for ``/admin/api/v1`` (the smaller ones).
STRIVACITY_PER_IP = (Budget(10, 1.0), Budget(100, 60.0))


def strivacity_budgets(per_second: float = 10.0) -> tuple[Budget, ...]:
    """Budgets for ``per_second`` requests a second and ten times that a minute.

    The documented limits keep that ratio (10/s with 100/min per IP, 50/s with 500/min per
    instance), so raising ``--rate`` after Strivacity raised the limits raises both.
    """
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    if per_second >= 1:
        return (Budget(int(per_second), 1.0), Budget(int(per_second * 10), 60.0))
    return (Budget(max(1, int(per_second * 60)), 60.0),)


def _items(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_buckets(headers: Mapping[str, str]) -> list[Bucket]:
    """The buckets in ``X-Ratelimit-Limit/Remaining/Reset``, matched by position.

    A value may carry a window (``100;w=60``); repeated headers arrive comma-joined. When
    ``Limit`` lists more items than ``Remaining`` (the IETF draft's "current limit, then the
    policies" form), the first items pair up. Unreadable items are skipped, never guessed.
    """
    limits = _items(headers.get("X-Ratelimit-Limit"))
    remaining = _items(headers.get("X-Ratelimit-Remaining"))
    resets = _items(headers.get("X-Ratelimit-Reset"))
    found = []
    for index in range(min(len(remaining), len(resets))):
        left, reset = _number(remaining[index]), _number(resets[index])
        if left is None or reset is None:
            continue
        limit, window = None, None
        if index < len(limits):
            head, _, params = limits[index].partition(";")
            number = _number(head)
            limit = int(number) if number is not None else None
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if name == "w":
                    window = _number(value)
        found.append(Bucket(limit, window, int(left), max(0.0, reset)))
    return found


def exhausted_wait(buckets: Sequence[Bucket]) -> float | None:
    """Seconds until every empty bucket has reset (None when none is empty)."""
    waits = [b.reset for b in buckets if b.remaining <= 0]
    return max(waits) if waits else None


class Pacer:
    """Spaces requests inside ``budgets`` and holds them while a server bucket is empty.

    ``wait(now)`` and ``sent(now)`` take the clock from the caller, so tests drive it with a
    fake clock; the lock makes one pacer safe to share between parallel streams.
    """

    def __init__(self, budgets: Sequence[Budget] = ()) -> None:
        self.budgets = tuple(budgets)
        depth = max((b.limit for b in self.budgets), default=0)
        self._sent: deque[float] = deque(maxlen=depth or 1)
        self._hold_until = 0.0
        self._lock = threading.Lock()

    def wait(self, now: float) -> float:
        """Seconds to wait before the next request may leave (0.0: now)."""
        with self._lock:
            delay = max(0.0, self._hold_until - now)
            sent = list(self._sent)
            for budget in self.budgets:
                if len(sent) >= budget.limit:
                    oldest = sent[-budget.limit]  # the send that must leave the window first
                    delay = max(delay, oldest + budget.window - now)
            return delay

    def sent(self, now: float) -> None:
        """Count a request that left at ``now``."""
        with self._lock:
            if self.budgets:
                self._sent.append(now)

    def observe(self, headers: Mapping[str, str], now: float) -> float | None:
        """Read the rate-limit headers of an answer; returns the wait an empty bucket asks for."""
        wait = exhausted_wait(parse_buckets(headers))
        if wait is not None:
            with self._lock:
                self._hold_until = max(self._hold_until, now + wait)
        return wait


#: Paces nothing (Dataverse: its throttling says ``Retry-After`` itself).
def unpaced() -> Pacer:
    return Pacer(())
