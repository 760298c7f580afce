"""Long commands show progress on their own stderr, never in the report notebook; the report
prints no kernel warnings. Real CLI processes (no TTY) against the emulator on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from recon.api import reconcile_files
from recon.apply import record_source
from recon.emulator import Emulator
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate


def _recon(args: list[str], env: dict[str, str], module: str = "recon"
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _stderr_outputs(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    return [o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
            if o.output_type == "stream" and o.name == "stderr"]


def test_a_report_prints_no_kernel_warning_and_nothing_with_progress_off(tmp_path: Path) -> None:
    env = {**os.environ, "RECON_PROGRESS": "0", "PYTHONHASHSEED": "0"}
    proc = _recon(["report", "--runs-dir", str(tmp_path)], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no "Kernel is running over TCP without encryption", no bars
    assert proc.stdout.startswith("run folder: ")


@pytest.fixture(scope="module")
def emu() -> Emulator:
    with Emulator() as emulator:
        yield emulator


@pytest.mark.parametrize("captured", [True, False])
def test_a_live_report_shows_the_pulls_progress_on_stderr_not_in_the_notebook(
        emu: Emulator, tmp_path: Path, captured: bool) -> None:
    """``captured``: the kernel moves descriptor 2 into the notebook, as outside pytest
    (ipykernel skips that when PYTEST_CURRENT_TEST is set)."""
    env = {**os.environ, **emu.env(), "RECON_PROGRESS": "log"}
    if captured:
        env.pop("PYTEST_CURRENT_TEST", None)
    proc = _recon(["report", "--source", "live", "--runs-dir", str(tmp_path)], env)
    assert proc.returncode == 0, proc.stderr
    assert "Dataverse contacts: done, 2,000 rows" in proc.stderr, proc.stderr
    assert "Strivacity accounts: done, 2,000 rows" in proc.stderr, proc.stderr
    assert "WARNING" not in proc.stderr
    (run_dir,) = tmp_path.iterdir()
    assert _stderr_outputs(run_dir / "report.ipynb") == []
    assert "rows/s" not in (run_dir / "report.html").read_text(encoding="utf-8")


def test_a_live_report_with_progress_off_prints_nothing(emu: Emulator, tmp_path: Path) -> None:
    env = {**os.environ, **emu.env(), "RECON_PROGRESS": "0"}
    proc = _recon(["report", "--source", "live", "--runs-dir", str(tmp_path)], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


@pytest.mark.parametrize(("setting", "shown"), [("log", True), ("0", False)])
def test_apply_execute_shows_its_progress_in_a_log(tmp_path: Path, setting: str,
                                                   shown: bool) -> None:
    sample = generate(tmp_path / "sample", contacts=120, seed=5)
    run = reconcile_files(sample / CONTACTS_FILE, sample / ACCOUNTS_FILE, tmp_path / "run")
    run_dir = tmp_path / "run"
    assert run is not None
    with Emulator(dynamics=sample / CONTACTS_FILE, strivacity=sample / ACCOUNTS_FILE) as local:
        record_source(run_dir, dataverse_url=local.info["dataverse_url"],
                      strivacity_url=local.info["strivacity_url"])
        env = {**os.environ, **local.env(), "RECON_PROGRESS": setting}
        proc = _recon([str(run_dir), "--to", "dynamics", "--execute", "--rate", "1000",
                       "--max-changes", "1000"], env, module="recon.apply")
    assert proc.returncode == 0, proc.stderr
    assert ("Dataverse apply: done," in proc.stderr) is shown, proc.stderr
    if not shown:
        assert "operations" not in proc.stderr
