"""The error hierarchy: every failure recon reports is a ``ReconError``, and its exit code.

    ReconError            1  the job failed
    ├── InputError        2  a file or record cannot be read (file, line, column, record, fix)
    ├── ConfigError       2  a setting, field map, option or parameter is wrong
    ├── HttpError         4  a service answered with an error (status, code, url)
    │   └── AuthError     4  a token could not be had, or the service refused it
    ├── JobFailed         1  a notebook cell raised, or some apply operations failed
    ├── ThresholdExceeded 3  a --fail-on threshold held (everything was written)
    ├── RunBusy           5  another apply holds the run folder's lock
    ├── LimitReached      6  the engine ran out of memory or of spill disk (nothing written)
    ├── Interrupted     130  Ctrl-C or SIGINT
    └── Terminated      143  SIGTERM (a scheduler stopping the job, ``kill``)

SIGTERM is raised in the main thread as ``Stop``, a ``KeyboardInterrupt``: every path that cleans
up after Ctrl-C (spill folders, ``.partial`` files, the report's kernel and run.json) does the same
after SIGTERM, and the handler reports it as ``Terminated``.

Each class carries its ``exit_code`` and what it ``means``: the CLI's one handler
(``recon.cli.main``) prints the message and returns the code, and the README's exit-code table is
``exit_code_table()``. Messages end with the next step, so the CLI can print them as they are.
"""

from __future__ import annotations

import sys
from typing import ClassVar, TextIO

EXIT_OK = 0


class ReconError(Exception):
    """Root of recon's errors; the CLI prints these without a traceback."""

    exit_code: ClassVar[int] = 1
    means: ClassVar[str] = "the job failed (a notebook cell raised; some apply operations failed)"


class InputError(ReconError):
    """A source file or record cannot be read as it is."""

    exit_code = 2
    means = "bad input, settings or usage: the message names the file, row, column and the fix"

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
        record: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.line = line
        self.column = column
        self.record = record
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = [f"{self.file}" if self.file else None,
                 f"line {self.line}" if self.line is not None else None,
                 f"record {self.record}" if self.record else None,
                 f"column {self.column!r}" if self.column else None]
        place = ", ".join(w for w in where if w)
        text = f"{place}: {self.problem}" if place else self.problem
        return f"{text}. {self.fix}" if self.fix else text


class ConfigError(ReconError):
    """A setting, field map, command-line option or notebook parameter is not acceptable."""

    exit_code = 2
    means = InputError.means


class HttpError(ReconError):
    """A service answered with an error status; keeps the server's own code and message."""

    exit_code = 4
    means = ("a remote service refused or failed (HTTP status and the server's error code are "
             "printed)")

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 url: str | None = None) -> None:
        self.status = status
        self.code = code
        self.url = url
        super().__init__(message)


class AuthError(HttpError):
    """No access token could be obtained, or the service refused it."""


class JobFailed(ReconError):
    """The job ran and failed: a notebook cell raised, or some operations failed."""


class ThresholdExceeded(ReconError):
    """A ``--fail-on`` threshold held; the run folder and its HTML are still written."""

    exit_code = 3
    means = "a `--fail-on` threshold was exceeded (the run folder and HTML are still written)"


class RunBusy(ReconError):
    """Another process holds the run folder's apply lock; nothing was sent."""

    exit_code = 5
    means = ("busy: another `recon apply` (or `reconcile --overwrite`) holds the run folder's "
             "lock; nothing was sent, try again when it ends")

    def __init__(self, message: str, *, pid: str | None = None, path: object = None) -> None:
        self.pid, self.path = pid, path
        super().__init__(message)


class LimitReached(ReconError):
    """The engine met a limit of this machine: its memory limit, or the disk it spills to."""

    exit_code = 6
    means = ("the engine ran out of memory or of disk to spill to (no run folder was written): "
             "raise `--memory-limit`, or give `--temp-dir` on a disk with more free space")


class Interrupted(ReconError):
    """The user interrupted recon (Ctrl-C, SIGINT)."""

    exit_code = 130
    means = "interrupted (Ctrl-C)"


class Terminated(ReconError):
    """recon was asked to stop (SIGTERM)."""

    exit_code = 143
    means = "terminated (SIGTERM): stopped the way Ctrl-C stops, nothing left looking complete"


class Stop(KeyboardInterrupt):
    """SIGTERM as an exception in the main thread (``recon.cli.main`` installs the handler)."""


#: Every error class, root first: the registry the handler, the runner and the README use.
ERRORS: tuple[type[ReconError], ...] = (ReconError, InputError, ConfigError, HttpError,
                                        AuthError, JobFailed, ThresholdExceeded, RunBusy,
                                        LimitReached, Interrupted, Terminated)


def error_class(name: str | None) -> type[ReconError] | None:
    """The recon error class called ``name`` (as a notebook kernel reports it), or None."""
    todo: list[type[ReconError]] = [ReconError]
    while todo:
        cls = todo.pop()
        if cls.__name__ == name:
            return cls
        todo.extend(cls.__subclasses__())
    return None


def exit_codes() -> dict[int, str]:
    """Each exit code and what it means, from the classes (0 is success)."""
    table = {EXIT_OK: "success"}
    for cls in sorted(ERRORS, key=lambda c: c.exit_code):
        table.setdefault(cls.exit_code, cls.means)
    return table


def exit_code_table() -> str:
    """The README's exit-code table, as Markdown."""
    rows = [f"| {code} | {means} |" for code, means in exit_codes().items()]
    return "\n".join(["| code | meaning |", "|---|---|", *rows])


def report(error: BaseException, stream: TextIO | None = None) -> int:
    """The one error handler: print ``recon: <message>`` and return the error's exit code."""
    if isinstance(error, Stop):
        error = Terminated("terminated (SIGTERM)")
    elif isinstance(error, KeyboardInterrupt):
        error = Interrupted("interrupted")
    if not isinstance(error, ReconError):
        raise error
    print(f"recon: {error}", file=stream or sys.stderr, flush=True)
    return error.exit_code
