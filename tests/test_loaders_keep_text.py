"""Text that looks like a date or a time reaches the frame, and so every batch, as written.

pyarrow's JSON reader guesses a timestamp type for such strings; read back they were other text
("2024-01-05" became "2024-01-05 00:00:00"), which recon would then have reported as drift and
written into the other system. Each case is read by both sides' JSON-lines loaders, with every
record holding the value (the reader guesses from all of them) and with one record that does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon import read_dynamics, read_strivacity, reconcile

LOOKS_LIKE_TIME = ["2024-01-05", "2024-01-05T10:00:00", "2024-01-05 10:00:00",
                   "1999-12-31T23:59:59Z", "2024-01-05T10:00", "2024-01-05T10:00:00+02:00"]


def _lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _account(n: int, given: str) -> dict:
    return {"id": f"acc-{n}", "enabled": True, "createdAt": "2024-07-04T13:32:16Z",
            "updatedAt": "2024-07-04T13:32:16Z",
            "accountInfo": {"name": {"givenName": given, "familyName": given},
                            "emails": {"primaryEmail": f"p{n}@example.com"}}}


def _contact(n: int, first: str) -> dict:
    return {"contactid": f"00000000-0000-0000-0000-{n:012d}", "emailaddress1": f"p{n}@example.com",
            "firstname": first, "lastname": first, "statecode": 0,
            "modifiedon": "2024-07-04T13:32:16Z"}


#: Each side's JSON-lines loader, its file name and a record whose names are ``value``.
SIDES = {"strivacity": (read_strivacity, "a.ndjson", _account),
         "dynamics": (read_dynamics, "c.jsonl", _contact)}


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("value", LOOKS_LIKE_TIME)
@pytest.mark.parametrize("mixed", [False, True], ids=["every record", "one record differs"])
def test_text_that_looks_like_a_time_is_kept(tmp_path: Path, side: str, value: str,
                                             mixed: bool) -> None:
    read, name, record = SIDES[side]
    records = [record(n, value) for n in range(3)] + ([record(3, "Jo")] if mixed else [])
    frame = read(_lines(tmp_path / name, records))
    assert frame["given_name"].tolist()[:3] == [value] * 3
    assert frame["family_name"].tolist()[:3] == [value] * 3


def test_the_text_is_what_the_batches_carry(tmp_path: Path) -> None:
    """An account only in Strivacity becomes a contact with its given name as written."""
    accounts = read_strivacity(_lines(tmp_path / "a.ndjson", [_account(1, "2024-01-05")]))
    contacts = read_dynamics(_lines(tmp_path / "c.jsonl", [_contact(2, "2024-01-06")]))
    result = reconcile(contacts, accounts)
    created = list(result.batch_lines("create_in_dynamics"))
    migrated = list(result.batch_lines("migrate_to_strivacity"))
    assert [line["firstname"] for line in created] == ["2024-01-05"]
    assert json.dumps(migrated[0]).count('"2024-01-06"') == 2  # given and family name
