"""The demo path end to end: emulator on loopback, live report, secrets kept out of the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon.api import reconcile_files
from recon.emulator import Emulator
from recon.runfolder import TABLES
from recon.runner import ReportOptions, run_report
from recon.settings import environment

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
CANARY_AZURE = "canary-azure-7f3c9e1d-do-not-leak"
CANARY_STRIVACITY = "canary-strivacity-52b8a4e0-do-not-leak"


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    with Emulator(client_secret=CANARY_AZURE, strivacity_client_secret=CANARY_STRIVACITY) as emu:
        env = emu.env()
        assert env["AZURE_CLIENT_SECRET"] == CANARY_AZURE
        with environment(env):
            outcome = run_report(ReportOptions(source="live", runs_dir=runs, label="live"))
    assert outcome.exit_code == 0, outcome.error
    return outcome.run_dir


def test_live_report_equals_reconciling_the_same_files(live_run: Path, tmp_path: Path) -> None:
    result, _ = reconcile_files(SAMPLE / "dynamics_contacts.csv",
                                SAMPLE / "strivacity_accounts.ndjson", tmp_path / "files")
    live = json.loads((live_run / "summary.json").read_text(encoding="utf-8"))
    assert live == result.summary
    for name in TABLES:
        assert (live_run / name).read_bytes() == (tmp_path / "files" / name).read_bytes(), name


def test_secrets_appear_nowhere_in_the_run_folder(live_run: Path) -> None:
    files = [p for p in live_run.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for path in files:
        data = path.read_bytes()
        for canary in (CANARY_AZURE, CANARY_STRIVACITY):
            assert canary.encode() not in data, f"{canary} leaked into {path}"
