"""Which data a report reads: never guessed, and checked before anything runs.

Given paths mean ``files`` (both are needed and must be files); ``sample`` and ``live`` refuse
paths rather than ignore them. A refusal is a ConfigError or an InputError (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from recon.errors import ConfigError, InputError

#: Where a report's data comes from (the notebook's ``source`` parameter).
SOURCES = ("sample", "live", "files")
_READS = {"sample": "the bundled sample tenant",
          "live": "Dynamics and Strivacity through their APIs"}


class Sourced(Protocol):
    """What names a report's source: ``ReportOptions`` has these."""

    @property
    def source(self) -> str | None: ...

    @property
    def dynamics(self) -> Path | None: ...

    @property
    def strivacity(self) -> Path | None: ...


def resolve_source(options: Sourced) -> str:
    """The source a run reads: given paths mean ``files``; a conflict or a missing file refuses.

    Checked before anything runs, so a report never silently falls back to the sample."""
    paths = {flag: path for flag, path in (("--dynamics", options.dynamics),
                                           ("--strivacity", options.strivacity)) if path}
    source = options.source or ("files" if paths else "sample")
    if source not in SOURCES:
        raise ConfigError(f"--source {source!r} is not known; valid: {', '.join(SOURCES)}.")
    if source != "files" and paths:
        raise ConfigError(f"--source {source} reads {_READS[source]}, so {' and '.join(paths)} "
                          "would be ignored. Drop --source to report on the files, or drop "
                          "the paths.")
    if source == "files":
        missing = [flag for flag in ("--dynamics", "--strivacity") if flag not in paths]
        if missing:
            raise ConfigError(f"--source files needs both --dynamics FILE and --strivacity FILE; "
                              f"{' and '.join(missing)} is missing.")
        for flag, path in paths.items():
            _check_file(flag, Path(path))
    return source


def _check_file(flag: str, path: Path) -> None:
    if path.is_dir():
        raise InputError("is a folder, not an export file", file=str(path),
                         fix=f"Give {flag} the export file itself.")
    if not path.is_file():
        raise InputError("does not exist", file=str(path),
                         fix=f"Check the path given to {flag} (relative paths start in "
                             f"{Path.cwd()}).")
