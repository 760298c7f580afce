"""Exactly once for Strivacity's non-idempotent writes: a bulk job or an account create whose
answer is lost (a 500 after acceptance, a dropped connection, a SIGKILL before the job id was
journaled) is settled from the target's state, never sent twice. Real msal, requests and TLS
against the emulator on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recon.apply import ApplyOptions, apply_run, main_apply
from recon.apply.journal import read_journal
from recon.apply.plan import operations
from recon.apply.strivacity import holds
from recon.emulator import Emulator
from recon.errors import HttpError
from recon.retry import NO_WAIT

FAST = {"retry": NO_WAIT, "poll_interval": 0.01, "rate": 1000.0}
UPDATES = "update_strivacity"
FOUND = "found applied after a restart: the bulk job had been accepted"


def apply(run_dir: Path, **options: Any) -> Any:
    # The sample's Strivacity plan is over the default blast-radius limit of 100.
    return apply_run(run_dir, ApplyOptions(target="strivacity", execute=True, max_changes=1000,
                                           **{**FAST, **options}))


def last_entries(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for e in read_journal(run_dir / "apply" / "journal.jsonl")}


def assert_updates_applied_once(emu: Emulator, run_dir: Path) -> None:
    updates = operations(run_dir, UPDATES)
    assert updates
    assert len(emu.strivacity.bulk.jobs) == 1, "the job was submitted again"
    assert emu.strivacity.bulk.applied == len(updates), "lines applied twice (or not at all)"
    for op in updates:
        account = emu.accounts.get(op.record)
        assert account is not None and holds(account["accountInfo"], op.body["value"]), op


@pytest.mark.parametrize("how", ["500", "drop"])
def test_a_bulk_job_accepted_then_its_answer_lost_is_never_resubmitted(
        emu: Emulator, run: Path, how: str, capsys: pytest.CaptureFixture[str]) -> None:
    emu.faults.lose_answers, emu.faults.lose_path, emu.faults.lose_how = 1, "bulk", how
    code = main_apply([str(run), "--to", "strivacity", "--execute", "--only", UPDATES,
                       "--poll-interval", "0.01", "--max-changes", "1000"])
    assert code == 4 and "accepted the bulk job" in capsys.readouterr().err
    assert emu.app.lost == 1
    updates = operations(run, UPDATES)
    assert {last_entries(run)[op.key]["state"] for op in updates} == {"sending"}
    report = apply(run, only=(UPDATES,))
    # Settled by reading the accounts back: sent (by the first apply), none unsent or failed.
    assert report.exit_code == 0 and report.counts == {UPDATES: {
        "sent": len(updates), "applied_earlier": 0, "conflict": 0, "failed": 0, "unsent": 0}}
    assert_updates_applied_once(emu, run)
    assert {last_entries(run)[op.key].get("note") for op in updates} == {FOUND}


def test_an_apply_killed_between_bulk_submit_and_journal_resumes_without_resubmitting(
        emu: Emulator, run: Path) -> None:
    emu.faults.lose_answers, emu.faults.lose_path, emu.faults.lose_how = 1, "bulk", "hold"
    proc = subprocess.Popen([sys.executable, "-m", "recon.apply", str(run), "--to",
                             "strivacity", "--execute", "--only", UPDATES,
                             "--poll-interval", "0.01", "--max-changes", "1000"],
                            env={**os.environ, **emu.env()}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        accepted = emu.app.lost_event.wait(timeout=120)  # the job is in, its answer held
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        emu.release_held()
    assert accepted and proc.returncode == -signal.SIGKILL
    updates = operations(run, UPDATES)
    before = last_entries(run)
    assert {before[op.key]["state"] for op in updates} == {"sending"}
    assert not any((before[op.key].get("detail") or {}).get("job") for op in updates)
    report = apply(run, only=(UPDATES,))
    assert report.exit_code == 0
    assert_updates_applied_once(emu, run)
    assert {last_entries(run)[op.key].get("note") for op in updates} == {FOUND}


def test_a_5xx_before_acceptance_is_settled_and_sent_again_in_the_same_run(
        emu: Emulator, run: Path) -> None:
    emu.faults.lose_answers, emu.faults.lose_path, emu.faults.lose_how = 1, "bulk", "refuse"
    report = apply(run, only=(UPDATES,))
    assert report.exit_code == 0 and emu.app.lost == 1
    assert emu.requests.count(method="POST", path="/admin/api/v1/bulk", status=503) == 1
    assert emu.requests.count(method="POST", path="/admin/api/v1/bulk", status=200) == 1
    assert_updates_applied_once(emu, run)
    reads = emu.requests.count(method="GET", path=emu.accounts_path())
    assert reads == 1, "settled by one list of the accounts updated since, not a read per line"


def test_a_lost_answer_is_settled_from_accounts_updated_since_the_submit(
        emu: Emulator, run: Path) -> None:
    """Settled with list pages of the accounts updated since the submit (an account someone
    else touched meanwhile is listed too), not with one read per line."""
    updates = operations(run, UPDATES)
    other = next(a for a in emu.accounts.all() if a["id"] not in {op.record for op in updates})
    emu.accounts.update_personal(other["id"], {"name": {"givenName": "Someone else"}})
    emu.faults.lose_answers, emu.faults.lose_path, emu.faults.lose_how = 1, "bulk", "drop"
    with pytest.raises(HttpError, match="accepted the bulk job"):
        apply(run, only=(UPDATES,))
    pages = emu.requests.count(method="GET", path=emu.accounts_path())
    assert pages == (len(updates) + 1) // 200 + 1 and pages < len(updates)
    assert emu.strivacity.bulk.applied == len(updates) and len(emu.strivacity.bulk.jobs) == 1


@pytest.mark.parametrize("how", ["500", "drop"])
def test_an_account_create_whose_answer_is_lost_is_found_not_created_twice(
        emu: Emulator, run: Path, how: str) -> None:
    migrates = operations(run, "migrate_to_strivacity")
    accounts = len(emu.accounts.all())
    emu.faults.lose_answers, emu.faults.lose_path, emu.faults.lose_how = 3, "accounts", how
    report = apply(run, only=("migrate_to_strivacity",))
    assert report.exit_code == 0 and emu.app.lost == 3
    assert len(emu.accounts.all()) == accounts + len(migrates)
    assert emu.requests.count(method="POST", path=emu.accounts_path()) == len(migrates)
    notes = [last_entries(run)[op.key].get("note") for op in migrates]
    assert notes.count("found created after its answer was lost") == 3
    assert emu.requests.count(method="POST", status=409) == 0


def test_a_409_for_an_account_recon_created_earlier_is_done_not_a_conflict(
        emu: Emulator, run: Path) -> None:
    migrates = operations(run, "migrate_to_strivacity")
    for op in migrates[:2]:  # created by an earlier send whose outcome was never journaled
        emu.accounts.create({"identities": {"email": op.body["email"]},
                             "accountInfo": op.body["local"]["metadata"]})
    report = apply(run, only=("migrate_to_strivacity",))
    assert report.exit_code == 0, report.problems
    notes = last_entries(run)
    assert all(notes[op.key]["note"] == "already created by an earlier send"
               for op in migrates[:2])
