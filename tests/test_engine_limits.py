"""Limits the engine meets (its memory limit, the disk it spills to) are ``LimitReached`` (exit 6)
with the fix, never a traceback, and leave neither a run folder nor spilled data behind."""

from __future__ import annotations

from pathlib import Path

import pytest

import recon
from recon.cli import main
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.run import run_plan
from recon.errors import LimitReached
from recon.fields import DEFAULT_FIELDS
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
INPUTS = ["--dynamics", str(SAMPLE / CONTACTS_FILE), "--strivacity", str(SAMPLE / ACCOUNTS_FILE)]


def test_too_little_memory_is_exit_6_with_the_fix_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, spill = tmp_path / "run", tmp_path / "spill"
    code = main(["reconcile", *INPUTS, "--out", str(out), "--engine", "duckdb",
                 "--memory-limit", "1MB", "--temp-dir", str(spill)])
    err = capsys.readouterr().err
    assert code == LimitReached.exit_code == 6
    assert "ran out of memory under memory_limit='1MB'" in err and "in step" in err
    assert "Raise --memory-limit" in err and "--temp-dir" in err
    assert "Traceback" not in err
    assert not out.exists()  # no folder that could pass for a finished run
    assert spill.is_dir() and not any(spill.iterdir())  # spilled personal data is gone


@pytest.mark.slow
def test_a_full_spill_disk_is_exit_6_naming_the_folder(tmp_path: Path) -> None:
    data = generate(tmp_path / "data", contacts=50_000, seed=5, overlap=0.9, drift=0.05,
                    duplicates=0.01)
    d = recon.read_dynamics(data / CONTACTS_FILE)
    s = recon.read_strivacity(data / ACCOUNTS_FILE)
    spill = tmp_path / "spill"
    spill.mkdir()
    # The disk's room is modelled by DuckDB's own cap on spilled bytes: 64 MB of memory must
    # spill for this tenant (test_engine_sql pins that), and 1 MB of disk cannot hold it.
    with pytest.raises(LimitReached) as caught, \
            DuckDB("64MB", spill, threads=1, temp_limit="1MB") as db:
        folder = db.spill_folder
        run_plan(db, d, s, DEFAULT_FIELDS)
    message = str(caught.value)
    assert f"ran out of disk to spill to in {spill}" in message
    assert "Give --temp-dir" in message and "raise --memory-limit" in message
    assert not folder.exists()


def test_other_io_failures_are_not_called_limits(tmp_path: Path) -> None:
    with DuckDB() as db, pytest.raises(Exception) as caught:
        db.arrow(f"SELECT * FROM read_csv('{tmp_path / 'missing.csv'}')")
    assert not isinstance(caught.value, LimitReached)
