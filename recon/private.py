"""Files that hold personal data: folders 0700, files 0600 whatever the umask; atomic writes.

``atomic_path`` and ``atomic_write`` write a file whole or not at all: into a private temporary
file in the same folder, fsync'd, then renamed over the target. On any failure the temporary
file is removed and the previous file, if any, is left as it was. A process killed outright
(SIGKILL) can leave a hidden ``.<name>.*.partial`` file, which nothing reads.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

DIR_MODE, FILE_MODE = 0o700, 0o600
PARTIAL = ".partial"


def private_dir(path: str | Path, *, narrow: bool = True) -> Path:
    """Create ``path`` and any missing parents as 0700; ``narrow`` sets an existing ``path`` 0700.

    Folders that already existed above ``path`` are never changed: they are the user's.
    """
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with suppress(FileExistsError):  # another process made it first: narrow it anyway
            folder.mkdir(mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask
    if narrow and not missing:
        os.chmod(path, DIR_MODE)
    return path


def private_opener(path: str, flags: int) -> int:
    """An ``open(..., opener=)`` that creates files 0600 and narrows an existing one to 0600."""
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def private_tree(folder: str | Path) -> Path:
    """Set ``folder`` and every folder under it 0700 and every file 0600 (after a writer ran)."""
    folder = Path(folder)
    os.chmod(folder, DIR_MODE)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), DIR_MODE)
        for name in files:
            target = os.path.join(root, name)
            if not os.path.islink(target):
                os.chmod(target, FILE_MODE)
    return folder


def fsync_file(path: str | Path) -> None:
    """Flush ``path``'s bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A private temporary path to write; renamed over ``path`` when the block succeeds.

    Missing parent folders are created 0700. On an exception the temporary file is removed
    and ``path`` is untouched.
    """
    path = Path(path)
    private_dir(path.parent, narrow=False)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL, dir=path.parent)
    os.close(fd)  # mkstemp creates the file 0600; writers reopen it by name
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)  # a writer may have replaced it with a file of its own
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", **options: Any) -> Iterator[IO[Any]]:
    """``open(path, mode)`` that replaces ``path`` only once the block has written it whole."""
    with atomic_path(path) as tmp, open(tmp, mode, opener=private_opener, **options) as out:
        yield out


def write_private_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, 0600."""
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
    return Path(path)
