"""README and help stay in step (sqlite-utils' test_docs.py is the model).

Every command in the README's command table exists and every command is in the table; each flag
the table shows for a command is in that command's help; every help has a description, examples
and the environment variables the command reads.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from recon.apply.cli import parser as apply_parser
from recon.cli import build_parser, main
from recon.clihelp import recon_version
from recon.emulator.cli import build_parser as emulator_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
_ROW = re.compile(r"^\| `recon ([a-z]+)([^`]*)` \|", re.MULTILINE)


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = dict(sub.choices)
    commands.update(apply=apply_parser(), emulator=emulator_parser())
    return commands


COMMANDS = _subcommands()


def _table() -> dict[str, set[str]]:
    """Command -> the flags its README rows show."""
    rows: dict[str, set[str]] = {}
    for name, rest in _ROW.findall(README):
        rows.setdefault(name, set()).update(re.findall(r"--[a-z][a-z-]*", rest))
    return rows


def test_the_readme_table_and_the_commands_are_the_same_set() -> None:
    assert set(_table()) == set(COMMANDS), (
        f"in the README only: {sorted(set(_table()) - set(COMMANDS))}; "
        f"commands missing from the README: {sorted(set(COMMANDS) - set(_table()))}")


@pytest.mark.parametrize("name", sorted(_table()))
def test_each_flag_in_the_readme_table_is_in_the_help(name: str) -> None:
    options = {o for action in COMMANDS[name]._actions for o in action.option_strings}
    missing = _table()[name] - options
    assert not missing, f"README shows {sorted(missing)} for `recon {name}`; its help has not"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_help_teaches(name: str) -> None:
    parser = COMMANDS[name]
    text = parser.format_help()
    assert parser.description and len(parser.description) > 40, name
    examples = text.split("examples:\n", 1)[-1].split("\n\n", 1)[0]
    assert "examples:" in text and "recon " in examples, f"`recon {name} --help`: no examples"
    assert "environment:\n  " in text, f"`recon {name} --help` names no environment"


def test_the_top_help_has_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "DATAVERSE_URL" in out and "130 interrupted" in out
    for name in COMMANDS:
        assert f"    {name}" in out, name


def test_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"recon {recon_version()}" != "recon unknown"


@pytest.mark.parametrize("argv", [["nosuch"], ["reconcile", "--nope"], ["apply"],
                                  ["emulator", "--port", "x"], ["sample"]])
def test_usage_errors_have_the_one_prefix(argv: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines()[-1].startswith("recon: ") and "--help" in err.splitlines()[-1]
    assert "error:" not in err


def test_no_command_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err
