"""One ``recon apply --execute`` per run folder at a time: an exclusive ``flock`` on ``apply/lock``.

The lock is held for the whole execute and released by the kernel when the process ends,
however it ends (a SIGKILL included), so a stale lock never needs cleaning up. The holder
writes its pid into the file, so a refused process can say who holds it. The file itself is
left in place: removing it would let a new process lock a fresh file while the old one runs.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recon.errors import RunBusy

LOCK_FILE = "lock"
EXIT_BUSY = RunBusy.exit_code
__all__ = ["EXIT_BUSY", "RunBusy", "run_lock"]


def _holder(descriptor: int) -> str | None:
    text = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
    return text or None


@contextmanager
def run_lock(apply_dir: Path, what: str = "recon apply") -> Iterator[Path]:
    """Hold ``apply_dir/lock`` exclusively for the block, or raise ``RunBusy`` at once."""
    apply_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = apply_dir / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(descriptor)
            raise RunBusy(f"{apply_dir.parent} is busy: another recon apply (pid "
                          f"{pid or 'unknown'}) holds {path}, so {what} did nothing. Wait for "
                          "that process to end (it releases the lock however it ends), then "
                          "run again.", pid=pid, path=path) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock
