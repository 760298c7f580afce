"""What every ``recon`` parser shares: one error prefix, help with examples and the environment.

``Parser`` is argparse's, with usage errors raised as ``ConfigError`` (so the one handler prints
``recon: <message>`` and ``main`` returns 2) and descriptions kept as written. ``epilog``
builds the examples and the environment variables a command reads, from
``recon.settings.VARIABLES``; option checks such as ``positive_int`` turn a bad value into one
sentence.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from recon.errors import ConfigError
from recon.settings import VARIABLES

PROGRESS = {"RECON_PROGRESS": "0 turns progress bars (and the log lines that replace them when "
                              "output is not a terminal) off"}
DYNAMICS_ENV = ("DATAVERSE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                "AZURE_AUTHORITY_HOST", "REQUESTS_CA_BUNDLE")
STRIVACITY_ENV = ("STRIVACITY_URL", "STRIVACITY_CLIENT_ID", "STRIVACITY_CLIENT_SECRET",
                  "STRIVACITY_STORE", "REQUESTS_CA_BUNDLE")
BOTH_ENV = tuple(dict.fromkeys(DYNAMICS_ENV + STRIVACITY_ENV))
NO_ENV = "none: this command reads no settings"
WIDTH = 88


class Parser(argparse.ArgumentParser):
    """argparse with recon's error prefix and exit code, and help text kept as written."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if isinstance(kwargs.get("description"), str):  # paragraphs wrapped, epilog kept as is
            kwargs["description"] = "\n\n".join(
                textwrap.fill(part, WIDTH) for part in str(kwargs["description"]).split("\n\n"))
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """Usage, then the one handler's ``recon: <message>`` line and exit 2 (``main`` returns
        it, as for every other error)."""
        self.print_usage(sys.stderr)
        raise ConfigError(f"{message}. See `{self.prog} --help`.")


def recon_version() -> str:
    """The installed distribution's version (``unknown`` when run from an uninstalled tree)."""
    try:
        return version("recon")
    except PackageNotFoundError:
        return "unknown"


def epilog(examples: Sequence[str], env: Sequence[str] = (), extra: dict[str, str] | None = None,
           note: str = "") -> str:
    """An ``examples:`` block and an ``environment:`` block naming each variable read."""
    described = {**{name: VARIABLES[name] for name in env}, **(extra or {})}
    width = max((len(n) for n in described), default=0)
    lines = ["examples:", *(f"  {e}" for e in examples), "", "environment:"]
    lines += [f"  {n:<{width}}  {text}" for n, text in described.items()] or [f"  {NO_ENV}"]
    if note:
        lines += ["", note]
    return "\n".join(lines)


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` (to ``high``), or one sentence saying so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"give a whole number {span}, not {value}")
        return value
    parse.__name__ = "whole number"
    return parse


positive_int = whole_number(1)


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"give a number above 0, not {text}")
    return value


def input_file(text: str) -> Path:
    """An argparse type: a file that exists (a folder or a missing path is one sentence)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give the export file inside it")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist; check the path")
    return path


def output_file(text: str) -> Path:
    """An argparse type: a file to write, which must not be an existing folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give the name of a file to "
                                         "write (in it, or elsewhere)")
    return path


def output_folder(text: str) -> Path:
    """An argparse type: a folder to write into, which must not be an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; give a folder path "
                                         "(it is created when missing)")
    return path


#: recon.engine.ENGINES, spelled here so that building a parser imports no engine (a test holds
#: the two equal).
ENGINE_CHOICES = ("numpy", "duckdb", "spark")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and each engine's own settings (``recon reconcile``, ``recon report``)."""
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default="numpy",
                        help="which engine reconciles; all give the same run folder (default "
                             "numpy; duckdb and spark run the relational plan, README: Engines)")
    parser.add_argument("--memory-limit", default=None, metavar="SIZE",
                        help="with --engine duckdb: the memory DuckDB may use, e.g. 4GB; past "
                             "it, it spills to --temp-dir (default: DuckDB's, 80%% of RAM)")
    parser.add_argument("--temp-dir", type=output_folder, default=None, metavar="DIR",
                        help="with --engine duckdb: where it spills, in a private folder "
                             "removed afterwards (default: recon reconcile spills beside the "
                             "run folder, recon report in the system's temporary folder)")
    parser.add_argument("--spark-master", default=None, metavar="URL",
                        help="with --engine spark: local[N], spark://host:7077, yarn or "
                             "k8s://...; default: $SPARK_REMOTE (Spark Connect), else local[*]")


def check_engine_flags(engine: str, memory_limit: str | None, temp_dir: Path | None,
                       spark_master: str | None) -> None:
    """Refuse an engine's settings given with another engine (exit 2), before any run."""
    if engine != "duckdb" and (memory_limit or temp_dir):
        raise ConfigError("--memory-limit and --temp-dir are for --engine duckdb; add "
                          "--engine duckdb, or leave them out.")
    if engine != "spark" and spark_master:
        raise ConfigError("--spark-master is for --engine spark; add --engine spark, or leave "
                          "it out.")
