"""Starting recon as a child process the way a terminal or a scheduler starts it."""

from __future__ import annotations

import sys

#: ``python -m recon`` as a terminal starts it. A job started in the background by a
#: non-interactive shell (``make test &``, some CI runners) inherits SIGINT as *ignored*, and
#: Python keeps it ignored, so a child would never see a test's SIGINT.
AS_FROM_A_TERMINAL = ("import runpy, signal, sys; signal.signal(signal.SIGINT, "
                      "signal.default_int_handler); sys.argv[0] = 'recon'; "
                      "runpy.run_module('recon', run_name='__main__')")


def recon_argv(*args: str) -> list[str]:
    """The command line of a ``recon`` child with ``args``, Ctrl-C at Python's default."""
    return [sys.executable, "-c", AS_FROM_A_TERMINAL, *args]
