"""The notebook kernels a report starts, so that Ctrl-C can stop them before recon exits.

On Ctrl-C nbclient shuts its kernel down gracefully, asking it to stop while a cell still runs,
and the kernel prints ZMQ tracebacks into the user's terminal as its sockets close under it; when
the interrupt lands elsewhere, the orphaned kernel says "Parent appears to have exited" after
recon's own message. Under ``interruptible()``, Ctrl-C makes the kernels of
``kernel_manager_class()`` stop at once (killed, no request), and ``stop_kernels()`` kills any
still running before recon exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

#: Kernel managers that started a kernel (or are starting one) and have not shut it down.
_RUNNING: dict[int, Any] = {}
_LOCK = threading.Lock()
_INTERRUPTED = threading.Event()


def kernel_manager_class() -> type:
    """nbclient's default kernel manager, remembering the kernels it starts."""
    from jupyter_client.manager import AsyncKernelManager

    class StoppableKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with _LOCK:  # before the launch: Ctrl-C can land while the kernel starts
                _RUNNING[id(self)] = self
            await super().start_kernel(**kw)

        async def shutdown_kernel(  # type: ignore[override]
                self, now: bool = False, restart: bool = False) -> None:
            with _LOCK:
                _RUNNING.pop(id(self), None)
            await super().shutdown_kernel(now=now or _INTERRUPTED.is_set(), restart=restart)

    return StoppableKernelManager


def stop_kernels() -> int:
    """Kill every kernel still running (on Ctrl-C); returns how many were stopped."""
    with _LOCK:
        managers = list(_RUNNING.values())
        _RUNNING.clear()
    stopped = 0
    for manager in managers:
        # the local provisioner's process group: the kernel leads its own session
        group = getattr(manager.provisioner, "pgid", None) or getattr(manager.provisioner,
                                                                      "pid", None)
        if group:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
                os.killpg(int(group), signal.SIGKILL)
                stopped += 1
    return stopped


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """While a report runs, Ctrl-C first marks its kernels for an immediate stop, then raises
    KeyboardInterrupt as usual (only the main thread can handle signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        _INTERRUPTED.set()
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _INTERRUPTED.clear()
