"""A report run from pulled files: provenance into source.json, every file private, and a side
with zero records refused unless --allow-empty."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recon.provenance import Pulled, write_sidecar
from recon.runner import ReportOptions, notebook_parameters, run_report
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
WHEN = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def pulled_copies(folder: Path) -> tuple[Path, Path]:
    out = []
    for side, name in (("dynamics", CONTACTS_FILE), ("strivacity", ACCOUNTS_FILE)):
        copy = Path(shutil.copyfile(SAMPLE / name, folder / name))
        write_sidecar(copy, Pulled(side, f"https://{side}.example.com", WHEN, store="default"
                                   if side == "strivacity" else None))
        out.append(copy)
    return out[0], out[1]


def test_a_files_report_records_its_sources_and_keeps_everything_private(
        umask_022: None, tmp_path: Path) -> None:
    dynamics, strivacity = pulled_copies(tmp_path)
    outcome = run_report(ReportOptions(source="files", dynamics=dynamics, strivacity=strivacity,
                                       runs_dir=tmp_path / "runs"))
    assert outcome.exit_code == 0, outcome.error
    source = json.loads((outcome.run_dir / "source.json").read_text())
    assert source["dynamics"]["url"] == "https://dynamics.example.com"
    assert source["strivacity"] == {"url": "https://strivacity.example.com", "store": "default",
                                    "pulled_at": "2026-12-01T03:00:00Z",
                                    "file": str(strivacity.resolve())}
    every = [outcome.run_dir, *outcome.run_dir.rglob("*")]
    names = {p.name for p in every}
    assert {"report.html", "report.ipynb", "run.json", "dynamics.parquet", "drift.csv"} <= names
    assert {stat.S_IMODE(p.stat().st_mode) for p in every if p.is_file()} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in every if p.is_dir()} == {0o700}
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700


def test_allow_empty_reaches_the_notebook_only_when_asked(tmp_path: Path) -> None:
    files = {"source": "files", "dynamics": SAMPLE / CONTACTS_FILE,
             "strivacity": SAMPLE / ACCOUNTS_FILE}
    assert "allow_empty" not in notebook_parameters(ReportOptions(**files))
    assert notebook_parameters(ReportOptions(**files, allow_empty=True))["allow_empty"] is True


def test_a_header_only_export_fails_the_report_naming_the_side(tmp_path: Path) -> None:
    dynamics = tmp_path / "contacts.csv"
    dynamics.write_text("contactid,emailaddress1\n")
    options = {"source": "files", "dynamics": dynamics, "strivacity": SAMPLE / ACCOUNTS_FILE,
               "runs_dir": tmp_path / "runs"}
    refused = run_report(ReportOptions(**options))
    assert refused.exit_code == 2 and refused.error  # an InputError in the notebook: bad input
    assert "the Dynamics side holds 0 contacts" in refused.error
    allowed = run_report(ReportOptions(**options, allow_empty=True))
    assert allowed.exit_code == 0, allowed.error
    assert allowed.summary and allowed.summary["dynamics"]["records"] == 0
