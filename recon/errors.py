"""The error hierarchy: every failure recon reports is a ``ReconError``.

    ReconError
    ├── InputError      a file or record cannot be read (file, line, column, record, fix)
    ├── ConfigError     a setting, field map or parameter is wrong
    └── HttpError       a service answered with an error (status, code, url)
        └── AuthError   a token could not be had

Messages end with the next step, so the CLI can print them as they are.
"""

from __future__ import annotations


class ReconError(Exception):
    """Root of recon's errors; the CLI prints these without a traceback."""


class InputError(ReconError):
    """A source file or record cannot be read as it is."""

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
    """A setting, field map or notebook parameter is not acceptable."""


class HttpError(ReconError):
    """A service answered with an error status; keeps the server's own code and message."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 url: str | None = None) -> None:
        self.status = status
        self.code = code
        self.url = url
        super().__init__(message)


class AuthError(HttpError):
    """No access token could be obtained, or the service refused it."""
