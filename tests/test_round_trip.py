"""One round trip converges (issue 10, point 9), against the emulator: real msal, requests, TLS.

Reconcile the committed sample, apply to Dynamics and then to Strivacity, pull both sides
and reconcile again: every batch is empty. The contacts created in Dynamics got their ids from
the run, and the same run's update_strivacity wrote those ids back as the accounts' links, so
nothing is left for a second round. Applying the same run again sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recon.api import reconcile_files
from recon.apply import ApplyOptions, apply_run, record_source
from recon.apply.plan import operations
from recon.dynamics.pull import pull_dynamics
from recon.emulator import Emulator
from recon.engine import reconcile
from recon.retry import NO_WAIT
from recon.runfolder import BATCH_NAMES, BATCHES_DIR
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE
from recon.strivacity.pull import pull_strivacity

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
FAST = {"retry": NO_WAIT, "poll_interval": 0.01, "rate": 1000.0}
WRITES = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(dynamics=SAMPLE / CONTACTS_FILE, strivacity=SAMPLE / ACCOUNTS_FILE) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        yield emulator


@pytest.fixture
def run(emu: Emulator, tmp_path: Path) -> Path:
    _, folder = reconcile_files(SAMPLE / CONTACTS_FILE, SAMPLE / ACCOUNTS_FILE, tmp_path / "run")
    record_source(folder, dataverse_url=emu.info["dataverse_url"],
                  strivacity_url=emu.info["strivacity_url"])
    return folder


def _apply(run_dir: Path, target: str) -> Any:
    # A first sync of the sample is larger than the default blast-radius limit, on purpose.
    return apply_run(run_dir, ApplyOptions(target=target, execute=True, max_changes=10_000,
                                           **FAST))


def _writes(emu: Emulator) -> int:
    return sum(emu.requests.count(method=method) for method in WRITES)


def test_one_round_trip_leaves_every_batch_empty(emu: Emulator, run: Path,
                                                 tmp_path: Path) -> None:
    created = operations(run, "create_in_dynamics")
    assert created
    assert _apply(run, "dynamics").exit_code == 0
    assert _apply(run, "strivacity").exit_code == 0

    again = reconcile(pull_dynamics(retry=NO_WAIT), pull_strivacity(retry=NO_WAIT))
    assert again.summary["batches"] == dict.fromkeys(BATCH_NAMES, 0)
    folder = again.write(tmp_path / "second")
    for file in (folder / BATCHES_DIR).glob("*.*json*"):
        assert file.read_text(encoding="utf-8") == "", file.name
    # The created contacts now pair with their accounts by link, not by email.
    by_link = set(again.matches.loc[again.matches["match_type"] == "link", "contactid"])
    assert {op.record for op in created} <= by_link

    emu.requests.clear()
    assert _apply(run, "dynamics").exit_code == 0
    assert _apply(run, "strivacity").exit_code == 0
    assert _writes(emu) == 0, "applying the same run again must send nothing"


def test_created_contacts_carry_the_ids_their_link_write_backs_hold(run: Path) -> None:
    created = operations(run, "create_in_dynamics")
    link_of = {op.record: op.body["value"]["crm"]["dynamicsContactId"]
               for op in operations(run, "update_strivacity")
               if "dynamicsContactId" in op.body["value"].get("crm", {})}
    lines = [line for line in (run / "batches" / "create_in_dynamics.jsonl")
             .read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(created) > 0
    for op, text in zip(created, lines, strict=True):
        assert op.record in text  # apply uses the contactid the line carries
    assert set(link_of.values()) >= {op.record for op in created}
