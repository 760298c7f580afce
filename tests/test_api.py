"""reconcile_files and read_both: a side with zero records stops the run unless allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from recon.api import reconcile_files
from recon.cli import main
from recon.errors import InputError
from recon.report import load_sides
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
DYNAMICS, STRIVACITY = SAMPLE / CONTACTS_FILE, SAMPLE / ACCOUNTS_FILE
CONTACTS = 2000  # records of each side in the bundled sample


def _dynamics_parquet(path: Path) -> None:
    pd.DataFrame({c: pd.Series([], dtype="string")
                  for c in ("contactid", "emailaddress1", "firstname")}).to_parquet(path)


#: Zero-record exports of each side, by how they arrive.
EMPTY: dict[str, tuple[str, str, Callable[[Path], object]]] = {
    "dynamics header-only csv": ("dynamics", "c.csv", lambda p: p.write_text(
        DYNAMICS.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")),
    "dynamics header-only csv, blank lines": ("dynamics", "c.csv", lambda p: p.write_bytes(
        b"\xef\xbb\xbfcontactid,emailaddress1\r\n\r\n\r\n")),
    "dynamics json []": ("dynamics", "c.json", lambda p: p.write_text("[]")),
    "dynamics web api page": ("dynamics", "c.json", lambda p: p.write_text('{"value": []}')),
    "dynamics empty jsonl": ("dynamics", "c.jsonl", lambda p: p.write_text("")),
    "dynamics empty parquet": ("dynamics", "c.parquet", _dynamics_parquet),
    "strivacity empty ndjson": ("strivacity", "a.ndjson", lambda p: p.write_text("")),
    "strivacity blank ndjson": ("strivacity", "a.ndjson", lambda p: p.write_text("\n \n")),
    "strivacity json []": ("strivacity", "a.json", lambda p: p.write_text(" [ ] ")),
    "strivacity header-only csv": ("strivacity", "a.csv", lambda p: p.write_text(
        "id,identities.email.id,name.givenName\n")),
}


def empty_export(tmp_path: Path, case: str) -> tuple[str, Path, Path, Path]:
    """(side, the empty file, the Dynamics file, the Strivacity file) for ``case``."""
    side, name, write = EMPTY[case]
    path = tmp_path / name
    write(path)
    return side, path, *((path, STRIVACITY) if side == "dynamics" else (DYNAMICS, path))


@pytest.mark.parametrize("case", EMPTY)
def test_zero_records_is_an_input_error_naming_file_and_side(tmp_path: Path, case: str) -> None:
    side, path, dynamics, strivacity = empty_export(tmp_path, case)
    with pytest.raises(InputError) as caught:
        reconcile_files(dynamics, strivacity, tmp_path / "run")
    error = caught.value
    assert error.file == str(path)
    assert f"the {side.capitalize()} side holds 0" in error.problem
    assert error.fix and "--allow-empty" in error.fix
    assert not (tmp_path / "run").exists()  # nothing written


@pytest.mark.parametrize("case", EMPTY)
def test_allow_empty_batches_the_other_side(tmp_path: Path, case: str) -> None:
    side, _, dynamics, strivacity = empty_export(tmp_path, case)
    result, _ = reconcile_files(dynamics, strivacity, tmp_path / "run", allow_empty=True)
    assert result.summary[side]["records"] == 0
    other = "strivacity" if side == "dynamics" else "dynamics"
    assert result.summary[other]["records"] == CONTACTS
    batch = "create_in_dynamics" if side == "dynamics" else "migrate_to_strivacity"
    assert result.summary["batches"][batch] > 0


@pytest.mark.parametrize("case", ["dynamics header-only csv", "strivacity empty ndjson",
                                  "dynamics empty parquet", "strivacity json []"])
def test_cli_exits_2_without_allow_empty_and_0_with_it(
        tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    side, path, dynamics, strivacity = empty_export(tmp_path, case)
    argv = ["reconcile", "--dynamics", str(dynamics), "--strivacity", str(strivacity),
            "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "--allow-empty" in err
    assert main([*argv, "--allow-empty"]) == 0
    assert f"{side:<10}        0 records" in capsys.readouterr().out


def test_a_file_that_is_wholly_empty_and_no_lines_format_still_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("")  # no header: not a zero-record export but a broken one
    with pytest.raises(InputError, match="the file is empty"):
        reconcile_files(path, STRIVACITY, tmp_path / "run", allow_empty=True)


@pytest.mark.parametrize("case", ["dynamics json []", "strivacity header-only csv"])
def test_the_reports_files_source_refuses_zero_records_too(tmp_path: Path, case: str) -> None:
    side, path, dynamics, strivacity = empty_export(tmp_path, case)
    with pytest.raises(InputError, match=f"the {side.capitalize()} side holds 0"):
        load_sides("files", dynamics, strivacity)
    frames = load_sides("files", dynamics, strivacity, allow_empty=True)
    assert [len(f) for f in frames].count(0) == 1
