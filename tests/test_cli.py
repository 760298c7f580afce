"""The CLI is documented and behaves: every command is in the README and has help."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from recon.cli import build_parser, main

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
    for code in ("0", "1", "2", "3", "4"):
        assert f"| {code} |" in README, f"exit code {code} missing from the README table"


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
