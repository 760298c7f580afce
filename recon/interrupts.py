"""Ctrl-C and SIGTERM while a command runs: both stop recon the same way, with their own codes.

``handled()`` (``recon.cli.main`` runs every command in it) makes SIGTERM raise ``Stop``, a
``KeyboardInterrupt``, in the main thread, so every path that cleans up after Ctrl-C (spill
folders, ``.partial`` files, a report's kernel and run.json) does the same after a scheduler's stop.
DuckDB turns a signal that arrives during a query into its own "Query interrupted" error;
``interrupt_of`` gives back the Ctrl-C or SIGTERM that error stands for.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from recon.errors import Stop

#: What DuckDB's Python client raises when a signal interrupts a query.
_INTERRUPTED = "Query interrupted"
#: The SIGTERM being handled, if any (DuckDB's error does not carry it).
_stopping: list[Stop] = []


@contextmanager
def handled() -> Iterator[None]:
    """SIGTERM raises ``Stop`` while the block runs; a handler someone else installed, or a
    call from another thread than the main one, is left alone."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        _stopping.append(Stop())
        raise _stopping[-1]

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _stopping.clear()


def interrupt_of(error: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (``KeyboardInterrupt``) or SIGTERM (``Stop``) behind an engine's "interrupted"
    error; None for any other error."""
    import duckdb  # here: the CLI imports this module, and most commands never start DuckDB

    if isinstance(error, KeyboardInterrupt):
        return error
    if isinstance(error, duckdb.InterruptException) or (
            isinstance(error, RuntimeError) and str(error) == _INTERRUPTED):
        return _stopping[-1] if _stopping else KeyboardInterrupt()
    return None
