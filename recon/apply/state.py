"""Making ``recon reconcile --out X`` safe over an earlier run: refuse, or clear it whole.

A folder that holds anything is refused unless ``overwrite``; with it, the folder must be a run
folder (``summary.json`` or ``batches/`` in it). The new run is written beside it first, then
everything in the old one is removed, the apply state (journal, reports, plan) included, and
the new run moved in, all under the apply lock, so a running apply is never cut from under
and a failed reconcile leaves the old run as it was. A folder that is not a run folder is
never emptied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recon.apply.lock import LOCK_FILE, run_lock
from recon.errors import ConfigError
from recon.runfolder import APPLY_DIR, BATCHES_DIR, SUMMARY_FILE

RUN_MARKS = (SUMMARY_FILE, BATCHES_DIR)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _entries(folder: Path) -> list[Path]:
    """What ``folder`` holds, not counting an ``apply/`` that holds at most its lock file."""
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name == APPLY_DIR and entry.is_dir() and \
                all(inner.name == LOCK_FILE for inner in entry.iterdir()):
            continue
        found.append(entry)
    return found


def check_out(folder: Path, overwrite: bool) -> list[Path]:
    """What ``folder`` holds, once it is sure it may be replaced; else a ConfigError."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file, not a folder. Give a folder path.")
    entries = _entries(folder)
    if entries and not overwrite:
        raise ConfigError(f"--out {folder} is not empty: it holds an earlier run "
                          f"({', '.join(e.name for e in entries[:5])}"
                          f"{', ...' if len(entries) > 5 else ''}). Give a new folder, or pass "
                          "--overwrite to replace that run; its apply journal goes with it.")
    if entries and not any((folder / mark).exists() for mark in RUN_MARKS):
        raise ConfigError(f"--out {folder} holds files but is not a run folder (no "
                          f"{' or '.join(RUN_MARKS)}), so --overwrite leaves it alone. Give a "
                          "new or empty folder.")
    return entries


def _replace(folder: Path, staging: Path) -> None:
    """Empty ``folder`` (its apply state included, the lock file aside), then move the new
    run from ``staging`` in."""
    apply_dir = folder / APPLY_DIR
    for entry in sorted(apply_dir.iterdir()) if apply_dir.is_dir() else []:
        if entry.name != LOCK_FILE:
            _remove(entry)
    for entry in sorted(folder.iterdir()):
        if entry.name != APPLY_DIR:
            _remove(entry)
    for entry in sorted(staging.iterdir()):
        if entry.name == APPLY_DIR:
            continue  # a new run has no apply state
        os.replace(entry, folder / entry.name)


@contextmanager
def fresh_out(folder: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """The folder to write a new run into, for ``recon reconcile --out folder``.

    A new or empty ``folder`` is written in place. A run folder with ``overwrite`` is held
    under its apply lock while the new run is written beside it (so a failed reconcile
    leaves the old run as it was) and then replaces it whole, apply state included.
    """
    folder = Path(folder)
    if not check_out(folder, overwrite):
        yield folder
        return
    with run_lock(folder / APPLY_DIR, "recon reconcile --overwrite"):
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
        try:
            yield staging
            _replace(folder, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
