"""The retry policy decides purely; only its sleep seam has a side effect."""

import random
from datetime import UTC, datetime

import pytest

from recon.retry import NO_WAIT, RetryPolicy, parse_retry_after


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_429_is_retried_for_every_method(method: str) -> None:
    assert RetryPolicy().is_retry(method, 429)


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_transient_errors_retry_safe_methods_only(status: int) -> None:
    policy = RetryPolicy()
    assert policy.is_retry("GET", status) and policy.is_retry("put", status)
    assert not policy.is_retry("POST", status) and not policy.is_retry("PATCH", status)


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 412])
def test_client_errors_are_not_retried(status: int) -> None:
    assert not RetryPolicy().is_retry("GET", status)


@pytest.mark.parametrize(("header", "seconds"), [
    ("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("", None), (None, None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
])
def test_parse_retry_after_reads_seconds_and_http_dates(header: str | None,
                                                        seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0)
    rng = random.Random(0)
    delays = [policy.backoff(n, rng) for n in range(6)]
    for n, delay in enumerate(delays):
        full = min(8.0, 2.0 ** n)
        assert full / 2 <= delay <= full
    assert len({round(d, 6) for d in delays[3:]}) > 1, "capped delays must still be jittered"


def test_wait_honours_retry_after_for_a_post() -> None:
    policy = RetryPolicy(backoff_base=100.0)
    assert policy.wait("POST", 429, "3", 0, 0.0, random.Random(0)) == 3.0


def test_wait_caps_a_huge_retry_after() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert policy.wait("GET", 429, "86400", 0, 0.0, random.Random(0)) == 10.0


def test_wait_without_retry_after_backs_off() -> None:
    policy = RetryPolicy(backoff_base=2.0, backoff_max=60.0)
    delay = policy.wait("GET", 429, None, 2, 0.0, random.Random(1))
    assert delay is not None and 4.0 <= delay <= 8.0


def test_wait_gives_up_after_max_attempts_and_max_wait() -> None:
    policy = RetryPolicy(max_attempts=3, max_wait=5.0)
    rng = random.Random(0)
    assert policy.wait("GET", 503, None, 1, 0.0, rng) is not None
    assert policy.wait("GET", 503, None, 2, 0.0, rng) is None
    assert policy.wait("GET", 429, "4", 0, 2.0, rng) is None, "would exceed the 5 s budget"


def test_wait_retries_lost_connections_for_safe_methods_only() -> None:
    rng = random.Random(0)
    assert RetryPolicy().wait("GET", None, None, 0, 0.0, rng) is not None
    assert RetryPolicy().wait("POST", None, None, 0, 0.0, rng) is None


def test_policy_is_immutable_and_no_wait_waits_nothing() -> None:
    with pytest.raises(AttributeError):
        NO_WAIT.max_attempts = 1  # type: ignore[misc]
    assert NO_WAIT.wait("GET", 429, "30", 0, 0.0, random.Random(0)) == 0.0
    assert NO_WAIT.sleep(5) is None
