"""Progress: a bar on a terminal, a line every few seconds in a log, nothing when turned off."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from recon import progress
from recon.errors import ConfigError


class Clock:
    """A clock the test moves by hand: no sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_every_few_seconds_and_one_at_the_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_PROGRESS", raising=False)
    log, clock = io.StringIO(), Clock()
    with progress.make_progress("Strivacity accounts", 1000, stream=log, clock=clock,
                                every=5) as bar:
        assert isinstance(bar, progress.LogProgress)
        for _ in range(20):  # one page of 50 rows a second, for 20 seconds
            clock.now += 1
            bar.update(50)
    lines = log.getvalue().splitlines()
    assert len(lines) == 5, lines  # at 5, 10, 15, 20 seconds, then the closing line
    assert lines[0] == ("Strivacity accounts: 250 rows, 5 pages, 50 rows/s, 25% of 1,000 "
                        "(ETA 0:00:15)")
    assert lines[-1] == "Strivacity accounts: done, 1,000 rows, 20 pages, 50 rows/s in 0:00:20"


def test_updates_between_two_lines_write_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_PROGRESS", "log")
    log, clock = io.StringIO(), Clock()
    bar = progress.make_progress("Dataverse contacts", stream=log, clock=clock, every=5)
    for _ in range(100):
        bar.update(5000)  # no time passes
    assert log.getvalue() == ""
    clock.now += 5
    bar.update(1)
    assert log.getvalue() == "Dataverse contacts: 500,001 rows, 101 pages, 100,000 rows/s\n"


def test_a_terminal_gets_a_tqdm_bar_with_rows_pages_and_total(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_PROGRESS", raising=False)
    monkeypatch.setenv("TQDM_DISABLE", "1")  # as in the report kernel: an asked-for bar shows
    screen = Terminal()
    with progress.make_progress("Dataverse apply", 200, unit="operations", page_unit="requests",
                                stream=screen) as bar:
        assert isinstance(bar, progress.BarProgress)
        bar.update(100)
    shown = screen.getvalue()
    assert shown.startswith("\rDataverse apply:   0%|") and " 0/200 " in shown, shown
    assert "operations/s" in shown, shown


@pytest.mark.parametrize("stream", [io.StringIO(), Terminal()])
def test_recon_progress_0_shows_nothing_anywhere(stream: io.StringIO,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_PROGRESS", "0")
    bar = progress.make_progress("Strivacity accounts", 10, stream=stream, clock=Clock())
    assert isinstance(bar, progress.NullProgress)
    bar.update(10)
    bar.close()
    assert stream.getvalue() == ""


@pytest.mark.parametrize(("value", "tty", "expected"), [
    ("", False, "log"), ("", True, "bar"), ("auto", False, "log"), ("AUTO", True, "bar"),
    ("bar", False, "bar"), ("log", True, "log"), ("0", True, "0")])
def test_mode_follows_the_variable_then_the_stream(value: str, tty: bool, expected: str) -> None:
    stream = Terminal() if tty else io.StringIO()
    assert progress.mode({"RECON_PROGRESS": value}, stream) == expected


def test_an_unknown_value_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="RECON_PROGRESS='yes'.*0, auto, bar, log"):
        progress.mode({"RECON_PROGRESS": "yes"})


def test_a_pull_without_a_terminal_and_recon_progress_0_prints_nothing_extra(
        tmp_path: pytest.TempPathFactory) -> None:
    """The CLI, TTY-less as under cron, with RECON_PROGRESS=0: stderr holds no progress."""
    from recon.emulator import Emulator

    out = tmp_path / "accounts.ndjson"  # type: ignore[operator]
    with Emulator() as emu:
        for setting, expect_lines in (("0", False), ("log", True)):
            env = {**os.environ, **emu.env(), "RECON_PROGRESS": setting}
            proc = subprocess.run(
                [sys.executable, "-m", "recon", "pull", "strivacity", "--out", str(out)],
                env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
            assert proc.returncode == 0, proc.stderr
            has_lines = "Strivacity accounts: done, 2,000 rows" in proc.stderr
            assert has_lines is expect_lines, proc.stderr
            if not expect_lines:
                assert "rows" not in proc.stderr and "\r" not in proc.stderr, proc.stderr
