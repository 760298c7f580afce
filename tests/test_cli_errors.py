"""Mistakes get one sentence and exit 2, not a traceback (issue 12 point 7)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from children import recon_argv

from recon.cli import main
from recon.resources import sample_dir

CONTACTS = sample_dir() / "dynamics_contacts.csv"
ACCOUNTS = sample_dir() / "strivacity_accounts.ndjson"


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.splitlines()[-1].startswith("recon: ")
    return err.splitlines()[-1]


@pytest.mark.parametrize("command", [
    ["reconcile", "--dynamics", str(CONTACTS), "--strivacity", str(ACCOUNTS), "--out"],
    ["sample", "--out"], ["report", "--runs-dir"], ["demo", "--runs-dir"]])
def test_an_out_folder_that_is_a_file(command: list[str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "is a file, not a folder" in _usage_error([*command, str(afile)], capsys)


@pytest.mark.parametrize("argv", [["sample", "--out", "x", "--contacts", "-3"],
                                  ["sample", "--out", "x", "--contacts", "0"],
                                  ["sample", "--out", "x", "--accounts", "many"],
                                  ["pull", "dynamics", "--out", "x.parquet", "--streams", "17"],
                                  ["apply", "run", "--to", "dynamics", "--batch-size", "0"],
                                  ["apply", "run", "--to", "dynamics", "--rate", "-1"],
                                  ["emulator", "--port", "70000"]])
def test_a_count_out_of_range(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(argv, capsys)
    assert "whole number" in line or "number above 0" in line


def test_a_sample_too_small_for_its_planted_cases(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--out", str(tmp_path / "s"), "--contacts", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recon: --contacts 10") and "Traceback" not in err


def test_an_unknown_extension_names_the_cli_flag(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "contacts.txt"
    export.write_bytes(CONTACTS.read_bytes())
    argv = ["reconcile", "--dynamics", str(export), "--strivacity", str(ACCOUNTS),
            "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--dynamics-format" in err and "format=" not in err and "contacts.txt" in err
    assert main([*argv, "--dynamics-format", "csv"]) == 0
    assert (tmp_path / "run" / "summary.json").is_file()


@pytest.mark.parametrize("flag", ["--dynamics", "--strivacity"])
def test_a_folder_given_as_an_input_file(flag: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    files = {"--dynamics": str(CONTACTS), "--strivacity": str(ACCOUNTS), flag: str(tmp_path)}
    line = _usage_error(["reconcile", *(x for kv in files.items() for x in kv),
                         "--out", str(tmp_path / "run")], capsys)
    assert "is a folder" in line and flag in line


def test_a_busy_emulator_port_names_the_port_and_the_fix(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"port {port}" in err and "--port 0" in err and "Traceback" not in err


def test_ctrl_c_during_a_report_exits_130_and_marks_the_run(tmp_path: Path) -> None:
    env = {**os.environ, "RECON_PROGRESS": "0", "PYTHONHASHSEED": "0"}
    child = subprocess.Popen([sys.executable, "-m", "recon", "report", "--runs-dir", "runs"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not _running_a_cell(tmp_path) and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        time.sleep(0.05)  # papermill saves the notebook as each cell starts
    os.killpg(child.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert err.splitlines()[-1].startswith("recon: interrupted") and "incomplete" in err
    for noise in ("Traceback", "ZMQError", "Parent appears to have exited", "Task exception"):
        assert noise not in err, err  # the kernel was stopped, not orphaned mid-cell
    run_json = next(tmp_path.glob("runs/*/run.json")).read_text()
    assert '"outcome": "interrupted"' in run_json and '"exit_code": 130' in run_json


def _running_a_cell(root: Path) -> bool:
    """A cell after the parameters is running: the kernel is busy executing the report."""
    for notebook in root.glob("runs/*/report.ipynb"):
        text = notebook.read_text(encoding="utf-8", errors="replace")
        if text.count('"status": "completed"') >= 2 and '"status": "running"' in text:
            return True
    return False


@pytest.mark.parametrize(("side", "toml", "column"), [
    ("dynamics", '[fields.phone]\ndynamics = "mobilphone"\n', "mobilphone"),
    ("dynamics", '[fields.city]\ndynamics = "address1_town"\nwinner = "dynamics"\n',
     "address1_town"),
    ("strivacity", '[fields.phone]\nstrivacity = ["phoneNumbers.mobile", "identities.phone.idd"]\n',
     "phoneNumbers.mobile"),
    ("strivacity", '[fields.given_name]\nstrivacity = "name.givenname"\n', "name.givenname"),
])
def test_a_field_map_naming_a_column_the_export_lacks(
        side: str, toml: str, column: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    fields = tmp_path / "fields.toml"
    fields.write_text(toml, encoding="utf-8")
    code = main(["reconcile", "--dynamics", str(CONTACTS), "--strivacity", str(ACCOUNTS),
                 "--out", str(tmp_path / "run"), "--fields", str(fields)])
    err = capsys.readouterr().err
    assert code == 2, err
    export = CONTACTS.name if side == "dynamics" else ACCOUNTS.name
    assert f"column {column!r}" in err and export in err and "fields.toml" in err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_a_field_map_whose_names_the_exports_hold_is_used(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One path of a list present is enough ("first present wins"); a default absent is blank."""
    fields = tmp_path / "fields.toml"
    fields.write_text('[fields.phone]\ndynamics = "telephone1"\n'
                      'strivacity = ["phoneNumbers.mobile", "identities.phone.id"]\n',
                      encoding="utf-8")
    contacts = tmp_path / "contacts.csv"  # no middlename, address or mobilephone column
    contacts.write_text("contactid,emailaddress1,telephone1,lastname\n"
                        "00000000-0000-0000-0000-00000000000a,a@example.com,+15125550100,Roe\n",
                        encoding="utf-8")
    assert main(["reconcile", "--dynamics", str(contacts), "--strivacity", str(ACCOUNTS),
                 "--out", str(tmp_path / "run"), "--fields", str(fields)]) == 0, \
        capsys.readouterr().err


@pytest.mark.parametrize("argv", [["pull", "dynamics", "--out"], ["pull", "strivacity", "--out"]])
def test_an_out_file_that_is_a_folder(argv: list[str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert "is a folder; give the name of a file" in _usage_error([*argv, str(tmp_path)], capsys)


@pytest.mark.parametrize(("stop", "code", "said"), [
    (signal.SIGTERM, 143, "recon: terminated (SIGTERM)"),
    (signal.SIGINT, 130, "recon: interrupted")], ids=["SIGTERM", "Ctrl-C"])
@pytest.mark.parametrize("when", ["starting", "writing"])
def test_a_stopped_duckdb_reconcile_says_so_and_leaves_nothing(
        tmp_path: Path, stop: signal.Signals, code: int, said: str, when: str) -> None:
    """A scheduler's stop (SIGTERM) or Ctrl-C while DuckDB holds a spill folder of personal
    data, as it starts and once the run folder is being written (a query running: DuckDB turns
    the signal into its own error): the folder and any half-written output are removed, and the
    exit code and message say which signal stopped it."""
    from recon.sample import generate
    tenant = generate(tmp_path / "tenant", contacts=100_000, seed=3, drift=0.05)
    runs = tmp_path / "runs"
    runs.mkdir()
    env = {**os.environ, "RECON_PROGRESS": "0", "PYTHONHASHSEED": "0"}
    child = subprocess.Popen(
        recon_argv("reconcile", "--dynamics", str(tenant / "dynamics_contacts.csv"),
                   "--strivacity", str(tenant / "strivacity_accounts.ndjson"),
                   "--out", str(runs / "today"), "--engine", "duckdb"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        sign = ".recon-duckdb-*" if when == "starting" else "today/*"
        while not list(runs.glob(sign)) and time.monotonic() < deadline:
            assert child.poll() is None, child.communicate()
            time.sleep(0.005)  # polling for the spill folder, then for the first output file
        child.send_signal(stop)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == code, err
    assert err.strip() == said, err
    assert list(runs.iterdir()) in ([], [runs / "today"])  # no spill folder left behind
    assert not (runs / "today" / "summary.json").exists()
    assert not list(runs.rglob("*.partial*"))


def test_sigterm_handler_is_only_recons_while_a_command_runs(tmp_path: Path) -> None:
    assert main(["sample", "--out", str(tmp_path / "sample")]) == 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back afterwards
