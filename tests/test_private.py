"""Personal data on disk: folders 0700 and files 0600 whatever the umask; whole files or none."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recon.api import reconcile_files
from recon.apply.journal import FileJournal
from recon.private import atomic_path, atomic_write, private_dir, private_tree
from recon.provenance import Pulled, write_sidecar
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(params=[0o022, 0o002, 0o000])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """A permissive umask, as on most desktops and servers, restored afterwards."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_creates_missing_folders_0700_and_leaves_the_users_own(
        umask: int, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    made = private_dir(mine / "a" / "b", narrow=False)
    assert mode(mine / "a") == mode(made) == 0o700
    assert mode(mine) == 0o755  # an existing parent is the user's: untouched
    private_dir(mine)
    assert mode(mine) == 0o700  # the folder asked for is narrowed


def test_atomic_write_makes_a_0600_file_over_a_0644_one(umask: int, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o644)
    with atomic_write(target) as out:
        out.write("new")
    assert target.read_text() == "new" and mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_failed_write_leaves_the_previous_file_and_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_bytes(b"the good file\n")
    with pytest.raises(RuntimeError, match="cut"), atomic_write(target, "wb") as out:
        out.write(b"half of the new")
        out.flush()
        assert target.read_bytes() == b"the good file\n"  # never written in place
        raise RuntimeError("cut")
    assert target.read_bytes() == b"the good file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_path_lets_a_writer_replace_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "t.bin"
    with atomic_path(target) as tmp:
        tmp.unlink()
        tmp.write_bytes(b"x")  # a library writer that creates its own file (umask applies)
    assert target.read_bytes() == b"x" and mode(target) == 0o600
    assert mode(target.parent) == 0o700


def test_private_tree_narrows_every_folder_and_file(umask: int, tmp_path: Path) -> None:
    (tmp_path / "run" / "batches").mkdir(parents=True)
    for name in ("run/a.csv", "run/batches/b.ndjson"):
        (tmp_path / name).write_text("x")
    private_tree(tmp_path / "run")
    assert {mode(p) for p in (tmp_path / "run").rglob("*") if p.is_file()} == {0o600}
    assert mode(tmp_path / "run") == mode(tmp_path / "run" / "batches") == 0o700


def test_run_folder_and_its_source_record_are_private(umask: int, tmp_path: Path) -> None:
    dynamics, strivacity = tmp_path / CONTACTS_FILE, tmp_path / ACCOUNTS_FILE
    for side, source, copy in (("dynamics", SAMPLE / CONTACTS_FILE, dynamics),
                               ("strivacity", SAMPLE / ACCOUNTS_FILE, strivacity)):
        shutil.copyfile(source, copy)
        write_sidecar(copy, Pulled(side, f"https://{side}.example", datetime.now(UTC)))
    out = tmp_path / "runs" / "one"
    reconcile_files(dynamics, strivacity, out)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"summary.json", "source.json", "drift.csv",
                                       "migrate_to_strivacity.csv"}
    assert {mode(p) for p in files} == {0o600}
    assert {mode(p) for p in [out, *out.rglob("*")] if p.is_dir()} == {0o700}
    assert mode(tmp_path / "runs") == 0o700  # created by recon: private too


def test_an_existing_out_folder_is_narrowed(umask: int, tmp_path: Path) -> None:
    out = tmp_path / "existing"
    out.mkdir()
    os.chmod(out, 0o755)
    reconcile_files(SAMPLE / CONTACTS_FILE, SAMPLE / ACCOUNTS_FILE, out)
    assert mode(out) == 0o700


def test_apply_journal_is_created_private(umask: int, tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "run" / "apply" / "journal.jsonl")
    journal.write([{"key": "k", "state": "sending"}])
    assert mode(journal.path) == 0o600 and mode(journal.path.parent) == 0o700
