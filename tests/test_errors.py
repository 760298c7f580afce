"""Exit codes live on the error classes; the README's table is generated from them."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from recon.errors import (
    ERRORS,
    AuthError,
    ConfigError,
    HttpError,
    InputError,
    Interrupted,
    JobFailed,
    LimitReached,
    ReconError,
    RunBusy,
    Stop,
    Terminated,
    ThresholdExceeded,
    error_class,
    exit_code_table,
    exit_codes,
    report,
)

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

#: The documented contract, written out once more on purpose: changing a class's code must
#: fail here (and in the README check), not pass silently.
DOCUMENTED = {ReconError: 1, JobFailed: 1, InputError: 2, ConfigError: 2, ThresholdExceeded: 3,
              HttpError: 4, AuthError: 4, RunBusy: 5, LimitReached: 6,
              Interrupted: 130, Terminated: 143}


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_each_error_class_has_its_documented_exit_code(cls: type[ReconError]) -> None:
    assert cls.exit_code == DOCUMENTED[cls]
    assert issubclass(cls, ReconError)


def test_every_error_class_is_in_the_registry() -> None:
    def subclasses(cls: type) -> set[type]:
        return {cls} | {s for sub in cls.__subclasses__() for s in subclasses(sub)}
    recon_classes = {c for c in subclasses(ReconError) if c.__module__ == "recon.errors"}
    assert recon_classes == set(ERRORS) == set(DOCUMENTED)


def test_the_readme_exit_code_table_is_the_generated_one() -> None:
    table = exit_code_table()
    assert table in README, ("README.md's exit-code table differs from the error classes; paste "
                             f"recon.errors.exit_code_table():\n{table}")
    documented = re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)
    assert [int(c) for c in documented] == [0, 1, 2, 3, 4, 5, 6, 130, 143] == list(exit_codes())


@pytest.mark.parametrize(("error", "code"), [
    (InputError("is empty", file="c.csv", fix="Export again."), 2),
    (ConfigError("--label bad"), 2),
    (HttpError("Dataverse answered 503", status=503), 4),
    (AuthError("Entra refused a token", status=400), 4),
    (JobFailed("the report failed"), 1),
    (ThresholdExceeded("threshold exceeded: drift.pairs>0 (it is 3)"), 3),
    (KeyboardInterrupt(), 130),
    (Stop(), 143),
])
def test_the_one_handler_prints_one_line_and_returns_the_class_code(
        error: BaseException, code: int) -> None:
    stream = io.StringIO()
    assert report(error, stream) == code
    text = stream.getvalue()
    assert text.startswith("recon: ") and text.count("\n") == 1 and "Traceback" not in text


def test_the_handler_lets_a_bug_through_with_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        report(ZeroDivisionError("a bug, not a user error"), io.StringIO())


def test_error_class_finds_recon_errors_by_name_subclasses_too() -> None:
    from recon.settings import SettingsError
    assert error_class("HttpError") is HttpError
    assert error_class("SettingsError") is SettingsError
    assert SettingsError.exit_code == 2
    assert error_class("ValueError") is None and error_class(None) is None
