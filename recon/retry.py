"""Retry policy as an immutable value decided by pure functions; one place sleeps.

Dataverse and Strivacity both throttle with 429 + ``Retry-After`` and occasionally fail with
5xx/408 (reference/dataverse.md §3); Strivacity throttles without ``Retry-After`` and says when
its buckets reset instead. The policy answers "retry, and after how long?" from the method, the
status, ``Retry-After`` (or the reset), and the attempts so far; ``recon.http.ServiceClient``,
the one retry loop, calls ``policy.sleep`` with the answer. Tests pass
``RetryPolicy(backoff_base=0, sleep=waits.append)`` instead of patching ``time.sleep``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Methods that can be repeated without changing the outcome (RFC 9110 idempotent methods).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Statuses that are worth another try for a safe method: timeouts and transient server errors.
TRANSIENT = frozenset({408, 500, 502, 503, 504})
THROTTLED = 429


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``sleep`` is the only side effect.

    ``max_attempts`` counts the first try. ``max_wait`` bounds the summed waits of one request,
    so a run never hangs on a service that keeps throttling. ``max_retry_after`` caps a single
    server-requested wait.
    """

    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 300.0
    max_wait: float = 900.0
    safe_methods: frozenset[str] = SAFE_METHODS
    sleep: Callable[[float], object] = field(default=time.sleep, repr=False, compare=False)

    def is_retry(self, method: str, status: int) -> bool:
        """Whether a response with ``status`` to ``method`` should be tried again."""
        if status == THROTTLED:
            return True  # the server refused before doing anything: safe for every method
        return status in TRANSIENT and method.upper() in self.safe_methods

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff for retry number ``attempt`` (0-based), with jitter.

        Half the delay is fixed, half random ("equal jitter"), so parallel streams that failed
        together do not come back together.
        """
        delay = min(self.backoff_max, self.backoff_base * 2 ** attempt)
        return delay / 2 + rng.uniform(0, delay / 2)

    def wait(self, method: str, status: int | None, retry_after: str | None, attempt: int,
             waited: float, rng: random.Random, *, reset: float | None = None,
             idempotent: bool = False) -> float | None:
        """Seconds to wait before the next try, or None to give up.

        ``status`` None means the request never got an answer (connection error, timeout):
        retried like a transient error. ``attempt`` is the number of tries made so far minus
        one; ``waited`` the seconds already spent waiting for this request. ``reset`` is the
        wait a throttled answer's rate-limit headers ask for (Strivacity sends no
        ``Retry-After``); ``idempotent`` says repeating this request cannot write twice.
        """
        if attempt + 1 >= self.max_attempts:
            return None
        safe = idempotent or method.upper() in self.safe_methods
        if status is None:
            if not safe:
                return None
        elif not (status == THROTTLED or (status in TRANSIENT and safe)):
            return None
        delay = self.backoff(attempt, rng)
        if status == THROTTLED:
            server = parse_retry_after(retry_after)
            server = reset if server is None else server
            if server is not None:
                delay = min(server, self.max_retry_after)
        return delay if waited + delay <= self.max_wait else None


def parse_retry_after(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None if unusable."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


#: A policy for tests and the emulator: no backoff, nothing slept, server waits capped at 0.
NO_WAIT = RetryPolicy(backoff_base=0.0, max_retry_after=0.0, sleep=lambda _seconds: None)
