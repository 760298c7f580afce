"""Making ``recon reconcile --out X`` safe over an earlier run: refuse, or clear it whole.

A folder that holds anything is refused unless ``overwrite``; with it, the folder must be a run
folder (``summary.json`` or ``batches/`` in it) and everything in it is removed first, the
apply state (journal, reports, plan) included, under the apply lock so a running apply is
never cut from under. A folder that is not a run folder is never emptied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from recon.apply.lock import LOCK_FILE, run_lock
from recon.errors import ConfigError

APPLY_DIR = "apply"
RUN_MARKS = ("summary.json", "batches")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def prepare_out(folder: str | Path, overwrite: bool = False) -> Path:
    """Make ``folder`` ready for a new run: absent or empty as it is, or cleared if
    ``overwrite`` and it is a run folder; otherwise a ConfigError that says what to do."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file, not a folder. Give a folder path.")
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    if not entries:
        return folder
    if not overwrite:
        raise ConfigError(f"--out {folder} is not empty: it holds an earlier run "
                          f"({', '.join(e.name for e in entries[:5])}"
                          f"{', ...' if len(entries) > 5 else ''}). Give a new folder, or pass "
                          "--overwrite to replace that run; its apply journal goes with it.")
    if not any((folder / mark).exists() for mark in RUN_MARKS):
        raise ConfigError(f"--out {folder} holds files but is not a run folder (no "
                          f"{' or '.join(RUN_MARKS)}), so --overwrite leaves it alone. Give a "
                          "new or empty folder.")
    with run_lock(folder / APPLY_DIR, "recon reconcile --overwrite"):
        for entry in sorted((folder / APPLY_DIR).iterdir()):
            if entry.name != LOCK_FILE:
                _remove(entry)
        for entry in entries:
            if entry.name != APPLY_DIR:
                _remove(entry)
    return folder
