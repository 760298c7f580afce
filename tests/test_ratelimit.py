"""Pacing decided purely: budgets, server buckets read by position, waits computed not slept."""

from __future__ import annotations

import random

import pytest

from recon.ratelimit import (
    STRIVACITY_PER_IP,
    Bucket,
    Budget,
    Pacer,
    exhausted_wait,
    parse_buckets,
    strivacity_budgets,
)
from recon.retry import RetryPolicy


def test_buckets_pair_by_position_with_their_windows() -> None:
    headers = {"X-Ratelimit-Limit": "50;w=1, 500;w=60, 10;w=1, 100;w=60",
               "X-Ratelimit-Remaining": "49, 412, 0, 37",
               "X-Ratelimit-Reset": "1, 33, 1, 22"}
    assert parse_buckets(headers) == [Bucket(50, 1.0, 49, 1.0), Bucket(500, 60.0, 412, 33.0),
                                      Bucket(10, 1.0, 0, 1.0), Bucket(100, 60.0, 37, 22.0)]
    assert exhausted_wait(parse_buckets(headers)) == 1.0


@pytest.mark.parametrize(("headers", "wait"), [
    # the reference's own example: the draft form, "current limit" then the policies
    ({"X-Ratelimit-Limit": "100, 100;w=60", "X-Ratelimit-Remaining": "37",
      "X-Ratelimit-Reset": "22"}, None),
    ({"X-Ratelimit-Limit": "100, 100;w=60", "X-Ratelimit-Remaining": "0",
      "X-Ratelimit-Reset": "22"}, 22.0),
    # two empty buckets: wait for the later reset
    ({"X-Ratelimit-Limit": "10;w=1, 100;w=60", "X-Ratelimit-Remaining": "0, 0",
      "X-Ratelimit-Reset": "1, 40"}, 40.0),
    ({}, None),  # Dataverse and others: no headers, no opinion
    ({"X-Ratelimit-Remaining": "x, 0", "X-Ratelimit-Reset": "5, 7"}, 7.0),  # junk item skipped
    ({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "-3"}, 0.0),
])
def test_the_empty_bucket_decides_the_wait(headers: dict[str, str], wait: float | None) -> None:
    assert exhausted_wait(parse_buckets(headers)) == wait


def test_default_budgets_are_the_per_ip_limits_and_scale_together() -> None:
    assert strivacity_budgets() == STRIVACITY_PER_IP == (Budget(10, 1.0), Budget(100, 60.0))
    assert strivacity_budgets(50) == (Budget(50, 1.0), Budget(500, 60.0))
    assert strivacity_budgets(0.5) == (Budget(30, 60.0),)
    with pytest.raises(ValueError):
        strivacity_budgets(0)


def _drive(pacer: Pacer, requests: int) -> list[float]:
    """Send ``requests`` through ``pacer`` on a fake clock; the times they left."""
    now, times = 0.0, []
    for _ in range(requests):
        now += pacer.wait(now)
        pacer.sent(now)
        times.append(now)
    return times


def test_default_pacing_stays_inside_both_per_ip_buckets() -> None:
    times = _drive(Pacer(strivacity_budgets()), 250)
    for index, start in enumerate(times):  # any 1 s window <= 10, any 60 s window <= 100
        assert sum(1 for t in times[index:] if t < start + 1.0) <= 10
        assert sum(1 for t in times[index:] if t < start + 60.0) <= 100
    assert times[99] < 60.0 <= times[100], "the 101st request waits for the minute"
    assert times[-1] == pytest.approx(120.0 + 4.0, abs=1.0), "250 requests take about 2 min"


def test_a_reported_empty_bucket_holds_every_request_until_it_resets() -> None:
    pacer = Pacer()
    assert pacer.observe({"X-Ratelimit-Remaining": "3", "X-Ratelimit-Reset": "9"}, 0.0) is None
    assert pacer.wait(0.0) == 0.0
    assert pacer.observe({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "9"}, 1.0) == 9.0
    assert pacer.wait(4.0) == 6.0 and pacer.wait(10.0) == 0.0


def test_a_429_without_retry_after_waits_for_the_reset() -> None:
    policy = RetryPolicy(backoff_base=100.0)
    rng = random.Random(0)
    assert policy.wait("POST", 429, None, 0, 0.0, rng, reset=22.0) == 22.0
    assert policy.wait("POST", 429, "3", 0, 0.0, rng, reset=22.0) == 3.0, "Retry-After wins"
    bounded = policy.wait("GET", 429, None, 0, 0.0, rng)  # no reset either: bounded backoff
    assert bounded is not None and 15.0 <= bounded <= 30.0, "capped at backoff_max"
    assert RetryPolicy(max_retry_after=10.0).wait("GET", 429, None, 0, 0.0, rng,
                                                  reset=3600.0) == 10.0


def test_idempotent_writes_retry_5xx_and_others_do_not() -> None:
    rng = random.Random(0)
    policy = RetryPolicy()
    assert policy.wait("POST", 503, None, 0, 0.0, rng) is None
    assert policy.wait("POST", None, None, 0, 0.0, rng) is None
    assert policy.wait("POST", 503, None, 0, 0.0, rng, idempotent=True) is not None
    assert policy.wait("POST", None, None, 0, 0.0, rng, idempotent=True) is not None
    assert policy.wait("POST", 400, None, 0, 0.0, rng, idempotent=True) is None
