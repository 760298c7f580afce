"""The live commands through the CLI: `recon pull` and `recon lookup` against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from recon.cli import main
from recon.dynamics.files import read_dynamics
from recon.emulator import Emulator
from recon.strivacity.files import read_strivacity

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
CONTACTS = SAMPLE / "dynamics_contacts.csv"
ACCOUNTS = SAMPLE / "strivacity_accounts.ndjson"


@pytest.fixture()
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(CONTACTS, ACCOUNTS) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RECON_PROGRESS", "0")
        yield emu


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in frame.columns if not c.startswith("raw_") and c != "etag"]
    return frame[columns].sort_values("record_id").reset_index(drop=True)


def test_pull_dynamics_writes_raw_rows_that_read_back_as_the_export(
        emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "contacts.parquet"
    assert main(["pull", "dynamics", "--out", str(out), "--streams", "4"]) == 0
    assert f"2000 contacts written to {out}" in capsys.readouterr().out
    raw = pd.read_parquet(out)
    assert {"contactid", "emailaddress1", "@odata.etag"} <= set(raw.columns)
    pd.testing.assert_frame_equal(_canonical(read_dynamics(out)),
                                  _canonical(read_dynamics(CONTACTS)))


def test_pull_dynamics_with_delta_reports_deletions(
        emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, state = tmp_path / "contacts.parquet", tmp_path / "delta.json"
    assert main(["pull", "dynamics", "--out", str(out), "--delta", str(state)]) == 0
    gone = emulator.contacts.all()[0]["contactid"]
    emulator.contacts.delete(gone)
    capsys.readouterr()
    assert main(["pull", "dynamics", "--out", str(out), "--delta", str(state)]) == 0
    assert "1999 contacts" in capsys.readouterr().out
    assert gone not in set(pd.read_parquet(out)["contactid"])


def test_pull_strivacity_writes_an_export_read_strivacity_reads(
        emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "accounts.ndjson"
    assert main(["pull", "strivacity", "--out", str(out)]) == 0
    assert "2000 accounts" in capsys.readouterr().out
    pd.testing.assert_frame_equal(_canonical(read_strivacity(out)),
                                  _canonical(read_strivacity(ACCOUNTS)))


def test_lookup_finds_exactly_the_contact_and_cannot_be_widened(
        emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    row = next(r for r in emulator.contacts.all() if r.get("emailaddress1"))
    assert main(["lookup", row["emailaddress1"]]) == 0
    assert row["contactid"] in capsys.readouterr().out
    widened = f"x' or contactid ne null or emailaddress1 eq '{row['emailaddress1']}"
    assert main(["lookup", widened]) == 2  # not an address: refused before any request
    assert "not an email address" in capsys.readouterr().err
    quoted = "x'or'contactid'ne'null@example.com"  # a valid address holding quotes
    assert main(["lookup", quoted, "--in", "dynamics"]) == 0
    out = capsys.readouterr().out
    assert "no record in dynamics holds it" in out and row["contactid"] not in out


def test_missing_settings_exit_2_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DATAVERSE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["lookup", "someone@example.com"]) == 2
    assert "DATAVERSE_URL" in capsys.readouterr().err
