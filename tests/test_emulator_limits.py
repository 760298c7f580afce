"""The services' documented limits, modelled by the emulator and met by recon's clients.

A fake clock drives both sides: the emulator's fixed windows read it, and the clients' one sleep
advances it, so a minute's budget is exercised without waiting a minute (and no timing is
asserted: request counts, headers and the waits recon computed are).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from recon.dynamics.pull import pull_dynamics_raw
from recon.emulator import Emulator, Faults
from recon.emulator.limits import Limits
from recon.http import build_session
from recon.retry import RetryPolicy
from recon.settings import StrivacitySettings
from recon.strivacity.client import StrivacityClient, StrivacityTokens
from recon.strivacity.pull import iter_accounts

ACCOUNTS = 30


class Clock:
    """Fake monotonic time; ``sleep`` records the wait and moves time on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def accounts() -> list[dict[str, Any]]:
    return [{"id": f"acc-{i:03d}", "store": "default", "enabled": True, "language": "en-US",
             "createdAt": f"2024-01-01T00:00:{i:02d}.000Z",
             "updatedAt": f"2024-01-02T00:00:{i:02d}.000Z",
             "identities": {"email": {"id": f"user{i}@example.com", "verified": True}},
             "accountInfo": {"name": {"givenName": f"G{i}"}}} for i in range(ACCOUNTS)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def strivacity(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    faults = Faults(rate_limits=1, ip_per_second=3, ip_per_minute=7)
    with Emulator(dynamics=[], strivacity=accounts(), faults=faults, clock=clock) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        yield emu


def client(clock: Clock) -> StrivacityClient:
    settings = StrivacitySettings.from_env()
    session = build_session(settings.ca_bundle)
    policy = RetryPolicy(backoff_base=0.0, sleep=clock.sleep)
    return StrivacityClient(session, StrivacityTokens(settings, session), settings.url, policy,
                            clock=clock)


def test_a_pull_paces_from_the_headers_and_is_never_throttled(strivacity: Emulator,
                                                              clock: Clock) -> None:
    got = list(iter_accounts(client(clock), "default", page_size=2))
    assert len(got) == ACCOUNTS and len({a["id"] for a in got}) == ACCOUNTS
    pages = ACCOUNTS // 2 + 1  # the last page is empty
    assert strivacity.requests.count(path="/admin/api/v1") == pages
    assert strivacity.requests.count(status=429) == 0, "an empty bucket holds the next request"
    # 16 requests at 7 a minute need three windows; at 3 a second, waits within each
    assert 120.0 <= clock.now < 180.0
    assert sum(1 for w in clock.slept if w >= 30) == 2, "two waits for the minute bucket"
    assert sum(1 for w in clock.slept if w < 30) >= 2, "and waits for the second bucket"


def test_a_429_carries_no_retry_after_and_recon_waits_for_the_reset(strivacity: Emulator,
                                                                    clock: Clock) -> None:
    settings = StrivacitySettings.from_env()
    other = build_session(settings.ca_bundle)  # another process on the same IP
    token = StrivacityTokens(settings, other).token()
    url = f"{settings.url}/admin/api/v1/identityStores/default/accounts?page=0&size=1"
    answers = []
    for second in range(3):  # 7 in this minute, at most 3 a second
        clock.now = float(second)
        answers += [other.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                    for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 7 + [429, 429]
    throttled = answers[-1]
    assert "Retry-After" not in throttled.headers
    assert throttled.json()["errorKey"] == "rateLimitExceeded"
    assert throttled.headers["X-Ratelimit-Limit"] == "50;w=1, 500;w=60, 3;w=1, 7;w=60"
    assert throttled.headers["X-Ratelimit-Remaining"].split(", ")[3] == "0"
    assert throttled.headers["X-Ratelimit-Reset"].split(", ")[3] == "58"
    clock.now, clock.slept = 2.5, []
    page = list(iter_accounts(client(clock), "default", page_size=ACCOUNTS + 1))
    assert len(page) == ACCOUNTS
    assert clock.slept == [58.0], "the 429's minute bucket reset, not a guess"
    assert strivacity.requests.count(status=429) == 3


def test_dataverse_service_protection_answers_429_with_retry_after(
        clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"contactid": str(uuid.UUID(int=i + 1)), "emailaddress1": f"c{i}@example.com",
             "lastname": f"L{i}", "statecode": "0", "createdon": "2024-01-01T00:00:00Z",
             "modifiedon": "2024-01-01T00:00:00Z", "versionnumber": str(i + 1)}
            for i in range(20)]
    faults = Faults(rate_limits=1, dataverse_requests=2, dataverse_window=300.0)
    with Emulator(dynamics=rows, strivacity=[], faults=faults, clock=clock) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        clock.now = 100.0
        frame = pull_dynamics_raw(retry=RetryPolicy(backoff_base=0.0, sleep=clock.sleep),
                                  page_size=5)
        throttled = emu.requests.count(status=429)
    assert len(frame) == 20
    assert throttled >= 1 and clock.slept[0] == 200.0, "Retry-After: to the window's end"
    assert all(wait in (200.0, 300.0) for wait in clock.slept)


def test_dataverse_limits_use_the_documented_codes_and_messages(clock: Clock) -> None:
    limits = Limits(Faults(rate_limits=1, dataverse_requests=1, dataverse_concurrent=1), clock)
    with limits.in_flight():
        assert limits.dataverse("app") is None
        refused = limits.dataverse("app")
        assert refused is not None and refused.status == 429
        assert b"0x80072322" in refused.body and b"limit of 1 over time window of 300" in \
            refused.body
        assert refused.header("Retry-After") == "300"
        with limits.in_flight():
            busy = limits.dataverse("app")
    assert busy is not None and b"0x80072326" in busy.body
    assert b"concurrent requests exceeded the limit of 1" in busy.body


def test_the_new_knobs_parse_from_the_faults_spec() -> None:
    from recon.emulator.faults import parse_faults
    faults = parse_faults("rate_limits=1, ip_per_minute=5,lose_how=drop,lose_path=accounts,"
                          "lose_answers=2,dataverse_window=60")
    assert (faults.rate_limits, faults.ip_per_minute, faults.lose_how, faults.lose_path,
            faults.lose_answers, faults.dataverse_window) == (1, 5, "drop", "accounts", 2, 60.0)
    assert isinstance(faults.dataverse_window, float) and isinstance(faults.lose_answers, int)
