"""Pulling Strivacity accounts end to end against the emulator's Admin API over TLS."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from recon.emulator import Emulator, Faults
from recon.errors import AuthError, ConfigError
from recon.fields import STRIVACITY_COLUMNS
from recon.retry import RetryPolicy
from recon.settings import StrivacitySettings
from recon.strivacity.client import PageSizePages
from recon.strivacity.files import read_strivacity
from recon.strivacity.pull import pull_strivacity, since_param

ACCOUNTS = 120
PAGE = 13
START = datetime(2024, 1, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def account(i: int, rng: random.Random) -> dict:
    email = f"user{i}@example.com" if i % 11 else f"o'neil+{i}@exämple.de"
    attributes = {"name": {"givenName": f"Given{i}", "familyName": f"Family {i}"},
                  "emails": {"primaryEmail": email}}
    if i % 4 == 0:
        attributes["crm"] = {"dynamicsContactId": f"{{{rng.getrandbits(128):032x}}}"}
    created = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
    return {"id": f"acc-{i:04d}", "store": "default", "enabled": i % 6 != 0,
            "createdAt": stamp(created) if i % 10 else stamp(START),
            "updatedAt": stamp(created + timedelta(days=i % 30)), "language": "en-US",
            "identities": {"email": {"id": email, "verified": i % 2 == 0},
                           "local": {"id": f"user{i}", "metadata": attributes}},
            "accountInfo": attributes}


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    rng = random.Random(3)
    path = tmp_path / "accounts.ndjson"
    path.write_text("".join(json.dumps(account(i, rng), ensure_ascii=False) + "\n"
                            for i in range(ACCOUNTS)), encoding="utf-8")
    return path


@pytest.fixture
def emu(seed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(dynamics=[], strivacity=seed, faults=Faults(),
                           port=0) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("record_id", ignore_index=True)


def test_pull_equals_reading_the_seed_file(emu: Emulator, seed: Path, tmp_path: Path,
                                           retry: RetryPolicy) -> None:
    out = tmp_path / "pulled.ndjson"
    pulled = pull_strivacity(page_size=PAGE, out=out, retry=retry)
    expected = read_strivacity(seed)
    columns = list(STRIVACITY_COLUMNS)
    pd.testing.assert_frame_equal(by_id(pulled)[columns], by_id(expected)[columns])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == ACCOUNTS and {json.loads(x)["id"] for x in lines} == \
        {f"acc-{i:04d}" for i in range(ACCOUNTS)}


def test_every_account_arrives_once_under_faults(emu: Emulator, tmp_path: Path,
                                                 retry: RetryPolicy, waits: list[float]) -> None:
    emu.faults.throttle_every = 4
    emu.faults.error_rate = 0.2
    emu.revoke_tokens()
    pulled = pull_strivacity(page_size=PAGE, retry=retry)
    assert len(pulled) == ACCOUNTS and pulled["record_id"].is_unique
    assert 1.0 in waits


def test_a_revoked_token_is_renewed_once(emu: Emulator, retry: RetryPolicy) -> None:
    class RevokeOnSecondPage:
        pages = 0

        def update(self, rows: int, pages: int = 1) -> None:
            self.pages += pages
            if self.pages == 2:
                emu.revoke_tokens()

        def close(self) -> None:
            return None

    pulled = pull_strivacity(page_size=PAGE, retry=retry, progress=RevokeOnSecondPage())
    assert len(pulled) == ACCOUNTS
    assert emu.requests.count(path="/admin/api/", status=401) == 1


def test_since_pulls_only_recently_updated_accounts(emu: Emulator, seed: Path,
                                                    retry: RetryPolicy) -> None:
    cutoff = START + timedelta(days=150)
    records = [json.loads(x) for x in seed.read_text(encoding="utf-8").splitlines()]
    expected = sorted(r["id"] for r in records
                      if datetime.fromisoformat(r["updatedAt"]) >= cutoff)
    pulled = pull_strivacity(since=cutoff, page_size=PAGE, retry=retry)
    assert 0 < len(expected) < ACCOUNTS
    assert sorted(pulled["record_id"]) == expected


def test_wrong_secret_is_an_auth_error(emu: Emulator, monkeypatch: pytest.MonkeyPatch,
                                       retry: RetryPolicy) -> None:
    monkeypatch.setenv("STRIVACITY_CLIENT_SECRET", "nope")
    with pytest.raises(AuthError, match="STRIVACITY_CLIENT_ID/SECRET") as caught:
        pull_strivacity(settings=StrivacitySettings.from_env(), retry=retry)
    assert caught.value.status in (400, 401)
    assert "nope" not in str(caught.value)


def test_page_size_paging_stops_on_a_short_page() -> None:
    pages = PageSizePages("https://t/accounts", {"sort": "createdAt,asc"}, 2)
    first = pages.first()
    assert first.params == {"sort": "createdAt,asc", "page": "0", "size": "2"}
    second = pages.advance([{}, {}])
    assert second is not None and second.params is not None and second.params["page"] == "1"
    assert pages.advance([{}]) is None
    assert pages.advance([]) is None


def test_since_accepts_datetimes_and_durations() -> None:
    assert since_param(datetime(2024, 3, 1, 12, tzinfo=UTC)) == "2024-03-01T12:00:00Z"
    assert since_param(datetime(2024, 3, 1)) == "2024-03-01T00:00:00Z"
    assert since_param(" -P1D ") == "-P1D"
    with pytest.raises(ConfigError):
        since_param(" ")
