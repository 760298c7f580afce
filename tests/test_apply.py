"""recon apply against the in-process emulator: real msal, requests and TLS on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from recon.apply import ApplyOptions, apply_run, main_apply, record_source
from recon.apply.api import scope_of, target_tenant
from recon.apply.dynamics import same
from recon.apply.journal import FileJournal, read_journal
from recon.apply.plan import batch_names, build_plan, operations
from recon.dynamics.pull import pull_dynamics
from recon.emulator import Emulator, Faults
from recon.engine import reconcile
from recon.errors import ConfigError
from recon.retry import NO_WAIT
from recon.strivacity.pull import pull_strivacity

#: max_changes: the seed's Strivacity plan (156 changes for 300 accounts) is above the default
#: blast-radius limit of 100, which tests of their own cover.
FAST = {"retry": NO_WAIT, "poll_interval": 0.01, "rate": 1000.0, "max_changes": 1000}


def apply(run_dir: Path, target: str, **options: Any) -> Any:
    return apply_run(run_dir, ApplyOptions(target=target, execute=True, **{**FAST, **options}))


def _contains(record: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(record, dict) and all(_contains(record.get(k), v)
                                                for k, v in wanted.items())
    return same(record, wanted)


def assert_dynamics_applied(emu: Emulator, run_dir: Path, contacts_before: int) -> None:
    updates = operations(run_dir, "update_dynamics")
    creates = operations(run_dir, "create_in_dynamics")
    assert updates and creates
    for op in updates:
        row = emu.contacts.get(op.record)
        assert row is not None and all(same(row[k], v) for k, v in op.body.items()), op
    for op in creates:
        row = emu.contacts.get(op.record)
        assert row is not None and row["emailaddress1"] == op.body["emailaddress1"]
    assert len(emu.contacts.all()) == contacts_before + len(creates)  # no duplicates


def assert_strivacity_applied(emu: Emulator, run_dir: Path, accounts_before: int) -> None:
    migrates = operations(run_dir, "migrate_to_strivacity")
    updates = operations(run_dir, "update_strivacity")
    assert migrates and updates
    for op in migrates:
        owner = emu.accounts.owner_of(op.record)
        account = emu.accounts.get(owner) if owner else None
        assert account is not None
        assert _contains(account["accountInfo"], op.body["local"]["metadata"])
    for op in updates:
        account = emu.accounts.get(op.record)
        assert account is not None and _contains(account["accountInfo"], op.body["value"])
    assert len(emu.accounts.all()) == accounts_before + len(migrates)


def assert_journal_complete(run_dir: Path) -> None:
    last = {e["key"]: e for e in read_journal(run_dir / "apply" / "journal.jsonl")}
    assert last and {e["state"] for e in last.values()} == {"done"}


@pytest.mark.parametrize("faults", [Faults(), Faults(throttle_every=4, error_rate=0.2, seed=3)],
                         ids=["clean", "429-and-5xx"])
def test_apply_reaches_the_expected_state(emu: Emulator, run: Path, faults: Faults) -> None:
    emu.faults.throttle_every, emu.faults.error_rate = faults.throttle_every, faults.error_rate
    emu.faults._rng = faults._rng
    contacts, accounts = len(emu.contacts.all()), len(emu.accounts.all())
    first = apply(run, "dynamics", batch_size=7)
    second = apply(run, "strivacity")
    assert first.exit_code == second.exit_code == 0
    if faults.throttle_every:
        assert emu.requests.count(status=429) and emu.requests.count(status=503)
    emu.faults.throttle_every, emu.faults.error_rate = 0, 0.0
    assert_dynamics_applied(emu, run, contacts)
    assert_strivacity_applied(emu, run, accounts)
    assert_journal_complete(run)
    report = json.loads((run / "apply" / "report.json").read_text())
    assert report["problems"] == [] and report["complete"] and report["counts"] == {
        name: {"sent": len(operations(run, name)), "applied_earlier": 0, "conflict": 0,
               "failed": 0, "unsent": 0}
        for name in batch_names("strivacity")}

    again = reconcile(pull_dynamics(retry=NO_WAIT), pull_strivacity(retry=NO_WAIT))
    created = {op.body["emailaddress1"] for op in operations(run, "create_in_dynamics")}
    assert again.summary["batches"]["migrate_to_strivacity"] == 0
    assert again.summary["batches"]["update_dynamics"] == 0
    assert not created & set(again.batch("create_in_dynamics")["emailaddress1"].dropna())
    assert set(again.drift["action"]) <= {"report"}  # no drift left on any applied field


def test_rerun_sends_nothing_new(emu: Emulator, run: Path) -> None:
    apply(run, "dynamics")
    emu.requests.clear()
    report = apply(run, "dynamics")
    assert report.exit_code == 0 and emu.requests.count(path="/api/data/v9.2/$batch") == 0


def test_dry_run_sends_nothing(emu: Emulator, run: Path, capsys: pytest.CaptureFixture[str]
                               ) -> None:
    before = emu.contacts.all()
    assert main_apply([str(run), "--to", "dynamics"]) == 0
    assert main_apply([str(run), "--to", "strivacity"]) == 0
    assert len(emu.requests) == 0 and emu.contacts.all() == before
    plan = json.loads((run / "apply" / "plan.json").read_text())
    assert plan["operations"] == {name: len(operations(run, name))
                                  for name in batch_names("strivacity")}
    assert plan["first"]["migrate_to_strivacity"][0]["method"] == "POST"
    assert plan["requests"][0]["method"] == "POST"
    assert not (run / "apply" / "journal.jsonl").exists()
    assert "Nothing was sent" in capsys.readouterr().out


def test_contact_edited_after_reconcile_is_a_412_conflict(emu: Emulator, run: Path) -> None:
    target = operations(run, "update_dynamics")[2]
    emu.contacts.update(target.record, {"telephone1": "+15550000000"})  # bumps the version
    report = apply(run, "dynamics")
    assert report.exit_code == 1
    assert [(p["key"], p["state"], p["status"]) for p in report.problems] == \
        [(target.key, "conflict", 412)]
    row = emu.contacts.get(target.record)
    assert row is not None and not all(same(row[k], v) for k, v in target.body.items())
    emu.requests.clear()
    assert apply(run, "dynamics").exit_code == 1  # still reported, never resent
    assert emu.requests.count(path="/api/data/v9.2/$batch") == 0


def test_rollback_restores_earlier_values(emu: Emulator, run: Path) -> None:
    apply(run, "dynamics", only=("update_dynamics",))
    updates = operations(run, "update_dynamics")
    touched = updates[0]
    emu.contacts.update(touched.record, {k: "Changed after apply" for k in touched.body})
    report = apply(run, "dynamics", rollback=True)
    assert [p["record"] for p in report.problems] == [touched.record]
    for op in updates[1:]:
        row = emu.contacts.get(op.record)
        assert row is not None
        assert op.was and all(same(row[k], op.was[k]) for k in op.body), op
    assert (run / "apply" / "rollback.jsonl").is_file()


def test_resume_settles_operations_sent_without_outcome(emu: Emulator, run: Path) -> None:
    """A journal ending in ``sending`` (killed mid-batch): reads decide, nothing is doubled."""
    creates = operations(run, "create_in_dynamics")[:6]
    migrates = operations(run, "migrate_to_strivacity")[:4]
    for op in creates[:3]:  # these reached Dataverse before the "kill"
        emu.contacts.create(op.body)
    for op in migrates[:2]:
        body = op.body
        emu.accounts.create({"identities": {"email": body["email"]},
                             "accountInfo": body["local"]["metadata"]})
    journal = run / "apply" / "journal.jsonl"
    for target, ops in (("dynamics", creates), ("strivacity", migrates)):
        url = emu.info[f"{'dataverse' if target == 'dynamics' else 'strivacity'}_url"]
        scope = scope_of(build_plan(run, target, url), target_tenant(target, url))
        FileJournal(journal, scope).write({"key": op.key, "record": op.record,
                                           "state": "sending"} for op in ops)
    with journal.open("a") as torn:
        torn.write('{"key": "torn')
    contacts, accounts = len(emu.contacts.all()), len(emu.accounts.all())
    assert apply(run, "dynamics").exit_code == 0
    assert apply(run, "strivacity").exit_code == 0
    assert_dynamics_applied(emu, run, contacts - 3)
    assert_strivacity_applied(emu, run, accounts - 2)
    notes = {e["key"]: e.get("note") for e in read_journal(journal) if e["state"] == "done"}
    assert all(notes[op.key] == "found created after a restart" for op in creates[:3])
    assert all(notes[op.key] == "found created after a restart" for op in migrates[:2])


@pytest.mark.parametrize("target", ["dynamics", "strivacity"])
def test_killed_apply_resumes_exactly_once(emu: Emulator, run: Path, target: str) -> None:
    contacts, accounts = len(emu.contacts.all()), len(emu.accounts.all())
    emu.faults.latency = 0.02  # keeps operations in flight long enough to be killed mid-way
    journal = run / "apply" / "journal.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "recon.apply", str(run), "--to", target,
                             "--execute", "--batch-size", "5", "--rate", "1000",
                             "--poll-interval", "0.01", "--max-changes", "1000"],
                            env={**os.environ, **emu.env()}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    while proc.poll() is None:
        entries = read_journal(journal)
        if sum(e["state"] == "done" for e in entries) >= 8 and entries[-1]["state"] == "sending":
            proc.send_signal(signal.SIGKILL)
            break
        try:
            proc.wait(timeout=0.002)  # the poll tick: wakes early if the process ends
        except subprocess.TimeoutExpired:
            pass
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    if proc.stderr is not None:
        proc.stderr.close()
    emu.faults.latency = 0.0
    # The killed process still "holds" the lock by its file; the kernel released the flock.
    assert (run / "apply" / "lock").read_text().strip() == str(proc.pid)
    assert apply(run, target).exit_code == 0
    if target == "dynamics":
        assert_dynamics_applied(emu, run, contacts)
    else:
        assert_strivacity_applied(emu, run, accounts)
    assert_journal_complete(run)


def test_strivacity_conflicts_and_bulk_line_errors_map_to_records(emu: Emulator,
                                                                   run: Path) -> None:
    taken = operations(run, "migrate_to_strivacity")[1]
    emu.accounts.create({"identities": {"email": {"id": taken.record}}, "accountInfo": {}})
    updates = operations(run, "update_strivacity")
    gone = updates[4]
    assert emu.accounts.delete(gone.record)
    report = apply(run, "strivacity")
    assert report.exit_code == 1
    problems = {p["key"]: p for p in report.problems}
    assert problems[taken.key]["state"] == "conflict" and problems[taken.key]["status"] == 409
    assert problems[gone.key]["record"] == gone.record and problems[gone.key]["status"] == 404
    assert len(problems) == 2


def test_guards_refuse_stale_foreign_or_unrecorded_runs(emu: Emulator, run: Path) -> None:
    later = datetime.now(UTC) + timedelta(hours=30)
    with pytest.raises(ConfigError, match="older than --max-age 24 h"):
        apply(run, "dynamics", now=later)
    record_source(run, dataverse_url="https://other.crm.dynamics.com")
    with pytest.raises(ConfigError, match="pulled from https://other.crm.dynamics.com"):
        apply(run, "dynamics")
    (run / "source.json").unlink()
    assert main_apply([str(run), "--to", "dynamics", "--execute"]) == 2
    assert emu.requests.count(method="POST", path="/api/data") == 0
    assert apply(run, "dynamics", force=True, now=later).exit_code == 0


def test_bad_options_are_config_errors(run: Path) -> None:
    with pytest.raises(ConfigError, match="--batch-size 1001"):
        ApplyOptions(batch_size=1001)
    with pytest.raises(ConfigError, match="not a batch for --to dynamics"):
        apply(run, "dynamics", only=("update_strivacity",))
    with pytest.raises(ConfigError, match="Dynamics updates only"):
        apply(run, "strivacity", rollback=True)
