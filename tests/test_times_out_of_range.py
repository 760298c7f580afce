"""A time recon cannot hold (outside 1677-2262) is an InputError naming the record and column,
never a traceback, on both sides' loaders and whatever the file's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon import read_dynamics, read_strivacity
from recon.errors import InputError

OUTSIDE = ["1000", "0001-01-01T00:00:00Z", "9999-12-31", "1600-05-01T10:00:00+02:00"]


@pytest.mark.parametrize("value", OUTSIDE)
def test_a_contact_time_outside_the_range_is_said(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text("contactid,emailaddress1,modifiedon\n"
                    f"00000000-0000-0000-0000-000000000001,a@x.com,{value}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_dynamics(path)
    assert caught.value.column == "modifiedon" and caught.value.line == 2
    assert f"'{value}'" in str(caught.value) and "1677-2262" in str(caught.value)


@pytest.mark.parametrize("value", [*OUTSIDE, 1000])
def test_an_account_time_outside_the_range_is_said(tmp_path: Path, value: object) -> None:
    path = tmp_path / "a.ndjson"
    path.write_text(json.dumps({"id": "a1", "updatedAt": value,
                                "identities": {"email": {"id": "a@x.com"}}}) + "\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_strivacity(path)
    assert caught.value.column == "updatedAt" and caught.value.line == 1
    assert f"'{value}'" in str(caught.value) and "1677-2262" in str(caught.value)
