"""Progress for long pulls: rows and pages on a tqdm bar, or nothing at all.

"Do nothing" is an object (STYLE principle 12): when ``RECON_PROGRESS=0`` or stderr is not a
terminal (cron, papermill, CI), ``make_progress`` returns ``NullProgress`` and callers never ask.
"""

from __future__ import annotations

import os
import sys
import threading
from types import TracebackType
from typing import Protocol, Self

from tqdm import tqdm


class Progress(Protocol):
    """What a pull reports: rows received and pages fetched."""

    def update(self, rows: int, pages: int = 1) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    """A progress object that ignores every update."""

    def update(self, rows: int, pages: int = 1) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class BarProgress:
    """A tqdm bar counting rows, with the page count beside it; safe across threads."""

    def __init__(self, desc: str, total: int | None = None) -> None:
        self._bar = tqdm(desc=desc, total=total, unit=" rows", unit_scale=True, leave=False,
                         file=sys.stderr)
        self._pages = 0
        self._lock = threading.Lock()

    def update(self, rows: int, pages: int = 1) -> None:
        with self._lock:
            self._pages += pages
            self._bar.set_postfix_str(f"{self._pages} pages", refresh=False)
            self._bar.update(rows)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def enabled() -> bool:
    """Whether a bar would be seen: RECON_PROGRESS is not 0 and stderr is a terminal."""
    if os.environ.get("RECON_PROGRESS", "").strip() == "0":
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def make_progress(desc: str, total: int | None = None) -> BarProgress | NullProgress:
    """A bar when someone is watching, else the do-nothing object."""
    return BarProgress(desc, total) if enabled() else NullProgress()
