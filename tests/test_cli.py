"""The CLI is documented and behaves: every command is in the README and has help."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from recon.cli import build_parser, main
from recon.emulator import Emulator
from recon.errors import ConfigError, HttpError
from recon.settings import VARIABLES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_is_in_the_readme_and_has_help(name: str) -> None:
    assert f"recon {name}" in README, f"README.md does not document `recon {name}`"
    assert _commands()[name].format_help().strip()


def test_exit_codes_are_documented() -> None:
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"| {code} |" in README, f"exit code {code} missing from the README table"
    epilog = build_parser().format_help()
    for code in ("0 success", "2 bad input", "3 a", "4 a remote service", "130 interrupted"):
        assert code in " ".join(epilog.split()), code


def test_bad_input_prints_one_line_and_exits_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "contacts.csv"
    empty.write_text("", encoding="utf-8")
    accounts = tmp_path / "accounts.ndjson"
    accounts.write_text('{"id": "a1"}\n', encoding="utf-8")
    code = main(["reconcile", "--dynamics", str(empty), "--strivacity", str(accounts),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "contacts.csv" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_repeated_record_id_exits_2_and_writes_no_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("contactid,emailaddress1\nc1,a@x.com\n", encoding="utf-8")
    accounts = tmp_path / "accounts.ndjson"
    accounts.write_text('{"id": "a1", "identities": {"email": {"id": "a@x.com"}}}\n'
                        '{"id": "a1", "identities": {"email": {"id": "b@x.com"}}}\n',
                        encoding="utf-8")
    code = main(["reconcile", "--dynamics", str(contacts), "--strivacity", str(accounts),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "line 1 and line 2" in err and "accounts.ndjson" in err
    assert not (tmp_path / "run").exists()


def test_a_usage_error_exits_with_the_settings_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", "--dynamics"]) == ConfigError.exit_code == 2
    err = capsys.readouterr().err
    assert "usage: recon reconcile" in err
    assert err.splitlines()[-1].startswith("recon: argument --dynamics: expected one argument")


@pytest.fixture()
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with Emulator([{"contactid": "00000000-0000-0000-0000-00000000000a",
                    "emailaddress1": "a@example.com", "statecode": 0}],
                  [{"id": "s1", "enabled": True}]) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RECON_PROGRESS", "0")
        yield emu


def test_a_service_error_exits_4(emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 404 (HttpError, not AuthError) through the one handler: exit 4, one line."""
    monkeypatch.setenv("STRIVACITY_STORE", "elsewhere")
    out = tmp_path / "accounts.ndjson"
    assert main(["pull", "strivacity", "--out", str(out)]) == HttpError.exit_code == 4
    err = capsys.readouterr().err
    assert err.startswith("recon: Strivacity answered 404") and err.count("\n") == 1


def test_a_refused_token_exits_4_without_the_secret(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong-secret-4a4a")
    assert main(["lookup", "a@example.com"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("recon: Entra refused a token") and "wrong-secret-4a4a" not in err


def test_the_lookup_works_with_the_same_emulator(emulator: Emulator,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lookup", "a@example.com"]) == 0  # the 4s above are the settings' doing
    assert "00000000-0000-0000-0000-00000000000a" in capsys.readouterr().out
