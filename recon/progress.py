"""Progress of long work (pulls, apply): a tqdm bar on a terminal, a line every few seconds in a
log, or nothing at all.

"Do nothing" is an object (STYLE principle 12): ``make_progress`` decides once, from
``RECON_PROGRESS`` and the stream, and callers only ever call ``update`` and ``close``.

``RECON_PROGRESS``: ``0`` nothing; ``bar`` a tqdm bar; ``log`` a line every few seconds;
empty or ``auto`` (the default) a bar when stderr is a terminal, else lines. Inside a Jupyter
kernel ``auto`` is nothing (a bar would fill the notebook's output); ``recon report`` tells its
kernel ``bar`` or ``log`` explicitly, and the kernel then writes to the terminal or log of the
process that started it, never into the notebook.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import IO, Protocol, Self

from tqdm import tqdm

from recon.errors import ConfigError

MODES = ("0", "auto", "bar", "log")
#: Seconds between two lines in a log.
EVERY = 5.0


class Progress(Protocol):
    """What long work reports: units done (rows, operations) and pages or requests."""

    def update(self, rows: int, pages: int = 1) -> None: ...

    def close(self) -> None: ...


class _Context:
    #: A stream this object opened itself and closes with it.
    owned: IO[str] | None = None

    def close(self) -> None:
        if self.owned is not None:
            self.owned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class NullProgress(_Context):
    """A progress object that ignores every update."""

    def update(self, rows: int, pages: int = 1) -> None:
        return None


class BarProgress(_Context):
    """A tqdm bar counting units (rate and ETA when the total is known), pages beside it;
    safe across threads."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "rows",
                 page_unit: str = "pages", stream: IO[str] | None = None) -> None:
        # disable=False: TQDM_DISABLE (set for the report kernel) must not hide a bar asked for
        self._bar = tqdm(desc=desc, total=total, unit=f" {unit}",
                         unit_scale=total is None, leave=False,
                         file=stream or sys.stderr, disable=False, dynamic_ncols=True)
        self._pages, self._page_unit = 0, page_unit
        self._lock = threading.Lock()

    def update(self, rows: int, pages: int = 1) -> None:
        with self._lock:
            self._pages += pages
            self._bar.set_postfix_str(f"{self._pages:,} {self._page_unit}", refresh=False)
            self._bar.update(rows)

    def close(self) -> None:
        self._bar.close()
        super().close()


class LogProgress(_Context):
    """One line every ``every`` seconds (and one at the end) for logs that are not terminals:
    ``Dataverse contacts: 120,000 rows, 24 pages, 2,400 rows/s, 60% (ETA 0:00:33)``."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "rows",
                 page_unit: str = "pages", stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic, every: float = EVERY) -> None:
        self.desc, self.total, self.unit, self.page_unit = desc, total, unit, page_unit
        self._stream, self._clock, self._every = stream or sys.stderr, clock, every
        self._start = self._last = clock()
        self._rows = self._pages = 0
        self._lock = threading.Lock()
        self._closed = False

    def update(self, rows: int, pages: int = 1) -> None:
        with self._lock:
            self._rows += rows
            self._pages += pages
            now = self._clock()
            if now - self._last >= self._every:
                self._last = now
                self._write(self.line(now))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._write(self.line(self._clock(), done=True))
        super().close()

    def line(self, now: float, done: bool = False) -> str:
        """The progress line at time ``now``."""
        spent = max(now - self._start, 0.0)
        text = (f"{self.desc}: {'done, ' if done else ''}{self._rows:,} {self.unit}, "
                f"{self._pages:,} {self.page_unit}")
        rate = self._rows / spent if spent > 0 else 0.0
        if rate:
            text += f", {rate:,.0f} {self.unit}/s"
        if self.total and not done:
            text += f", {100 * self._rows / self.total:.0f}% of {self.total:,}"
            if rate:
                text += f" (ETA {_clock_text((self.total - self._rows) / rate)})"
        return text + (f" in {_clock_text(spent)}" if done else "")

    def _write(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()


def _clock_text(seconds: float) -> str:
    whole = max(int(round(seconds)), 0)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def mode(env: Mapping[str, str] | None = None, stream: IO[str] | None = None) -> str:
    """``0``, ``bar`` or ``log``: what ``make_progress`` would show (see the module docstring)."""
    value = (os.environ if env is None else env).get("RECON_PROGRESS", "").strip().lower()
    if value not in (*MODES, ""):
        raise ConfigError(f"RECON_PROGRESS={value!r} is not known; valid: {', '.join(MODES)} "
                          "(empty: auto). Set it to one of those or unset it.")
    if value in ("0", "bar", "log"):
        return value
    if _in_kernel():
        return "0"
    target = stream or sys.stderr
    return "bar" if bool(getattr(target, "isatty", lambda: False)()) else "log"


def enabled() -> bool:
    """Whether ``make_progress`` would show anything."""
    return mode() != "0"


def _in_kernel() -> bool:
    """True inside a Jupyter kernel, where sys.stderr is the notebook's output stream."""
    iostream = sys.modules.get("ipykernel.iostream")
    return iostream is not None and isinstance(sys.stderr, iostream.OutStream)


def _kernel_stderr() -> tuple[IO[str], bool] | None:
    """In a kernel, the terminal or log of the process that started it, never the notebook:
    ipykernel moves descriptor 2 into the notebook and gives the original as its stream's
    ``fileno()`` (for subprocesses); a kernel that does not capture descriptors (ipykernel
    leaves them alone under pytest) still has the original behind ``sys.__stderr__``.
    The flag says whether the stream was opened here (and is closed with the progress)."""
    if not _in_kernel():
        return None
    try:
        fd = sys.stderr.fileno()
    except (OSError, ValueError):
        return (sys.__stderr__, False) if sys.__stderr__ is not None else None
    return open(os.dup(fd), "w", encoding="utf-8", errors="replace"), True  # noqa: SIM115


def make_progress(desc: str, total: int | None = None, *, unit: str = "rows",
                  page_unit: str = "pages", stream: IO[str] | None = None,
                  clock: Callable[[], float] = time.monotonic,
                  every: float = EVERY) -> BarProgress | LogProgress | NullProgress:
    """A bar, log lines or the do-nothing object, as ``RECON_PROGRESS`` and the stream say."""
    shown = mode(stream=stream)
    if shown == "0":
        return NullProgress()
    kernel = None if stream is not None else _kernel_stderr()
    target = stream or (kernel[0] if kernel else sys.stderr)
    owned = kernel[0] if kernel and kernel[1] else None
    shown_as: BarProgress | LogProgress = (
        BarProgress(desc, total, unit, page_unit, target) if shown == "bar" else
        LogProgress(desc, total, unit, page_unit, target, clock, every))
    shown_as.owned = owned
    return shown_as
