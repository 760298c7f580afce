"""Issue 10, points 8 and 10 end to end: a journal belongs to one run's content, and one apply
runs per run folder at a time. Real msal, requests and TLS against the emulator on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recon.apply import ApplyOptions, apply_run, record_source
from recon.apply.dynamics import same
from recon.apply.journal import read_journal
from recon.apply.lock import EXIT_BUSY, run_lock
from recon.apply.plan import batch_names, operations
from recon.cli import main
from recon.emulator import Emulator
from recon.errors import HttpError
from recon.retry import NO_WAIT
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate

FAST = {"retry": NO_WAIT, "poll_interval": 0.01, "rate": 1000.0, "max_changes": 1000}
BATCH = "/api/data/v9.2/$batch"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("safety") / "sample", contacts=300, seed=11)


@pytest.fixture
def emu(sample: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(dynamics=sample / CONTACTS_FILE, strivacity=sample / ACCOUNTS_FILE) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        yield emulator


def reconcile_into(out: Path, contacts: Path, accounts: Path, *extra: str) -> int:
    return main(["reconcile", "--dynamics", str(contacts), "--strivacity", str(accounts),
                 "--out", str(out), *extra])


def vouch(out: Path, emu: Emulator) -> None:
    record_source(out, dataverse_url=emu.info["dataverse_url"],
                  strivacity_url=emu.info["strivacity_url"])


def apply(run_dir: Path, target: str, **options: Any) -> Any:
    return apply_run(run_dir, ApplyOptions(target=target, execute=True, **{**FAST, **options}))


def moved_cities(accounts: Path, out: Path, contacts: set[str], count: int) -> dict[str, str]:
    """A copy of ``accounts`` where ``count`` linked accounts moved city; contact id -> city."""
    moved: dict[str, str] = {}
    lines = []
    for text in accounts.read_text(encoding="utf-8").splitlines():
        account = json.loads(text)
        info = account.get("accountInfo") or {}
        link = ((info.get("crm") or {}).get("dynamicsContactId") or "").lower()
        if link in contacts and len(moved) < count and info.get("addresses"):
            moved[link] = info["addresses"]["locality"] = f"Round Rock {len(moved)}"
        lines.append(json.dumps(account, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(moved) == count
    return moved


def sent(report: Any) -> int:
    return sum(states["sent"] for states in report.counts.values())


def test_reconcile_over_an_applied_run_then_apply_sends_the_new_work(
        emu: Emulator, sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "X"
    assert reconcile_into(out, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(out, emu)
    first = apply(out, "dynamics")
    assert first.exit_code == 0 and sent(first) == len(operations(out, "update_dynamics")) \
        + len(operations(out, "create_in_dynamics"))
    journal = out / "apply" / "journal.jsonl"
    old_journal = journal.read_bytes()

    # Different data: Dynamics as it stands now, and Strivacity where 20 people moved.
    pulled = tmp_path / "contacts.parquet"
    assert main(["pull", "dynamics", "--out", str(pulled)]) == 0
    untouched = {c["contactid"] for c in emu.contacts.all()} - {
        op.record for op in operations(out, "update_dynamics")}
    accounts = tmp_path / "moved.ndjson"
    moved = moved_cities(sample / ACCOUNTS_FILE, accounts, untouched, 20)
    capsys.readouterr()
    assert reconcile_into(out, pulled, accounts) == 2  # refused: the folder holds a run
    error = capsys.readouterr().err
    assert str(out) in error and "--overwrite" in error
    assert journal.read_bytes() == old_journal  # a refusal touches nothing

    assert reconcile_into(out, pulled, accounts, "--overwrite") == 0
    assert not journal.exists()
    # source.json is the new run's: the pulled contacts say their tenant, the hand-made
    # accounts file says nothing, and the old run's record is gone.
    source = json.loads((out / "source.json").read_text(encoding="utf-8"))
    assert source["dynamics"]["url"] == emu.info["dataverse_url"].rstrip("/")
    assert source["strivacity"]["url"] is None
    assert not (out / "apply" / "report.json").exists()
    updates = operations(out, "update_dynamics")
    assert {op.record for op in updates} >= set(moved) and len(updates) >= 20
    vouch(out, emu)
    emu.requests.clear()
    second = apply(out, "dynamics")
    assert second.exit_code == 0 and second.ignored == []
    assert sent(second) == len(updates) + len(operations(out, "create_in_dynamics"))
    assert emu.requests.count(method="POST", path=BATCH) >= 1
    for contactid, city in moved.items():
        row = emu.contacts.get(contactid)
        assert row is not None and row["address1_city"] == city
    for op in updates:
        row = emu.contacts.get(op.record)
        assert row is not None and all(same(row[k], v) for k, v in op.body.items()), op


def test_an_old_journal_copied_into_a_new_run_is_ignored(emu: Emulator, sample: Path,
                                                         tmp_path: Path) -> None:
    """The files replaced by hand (no --overwrite): the old entries still count for nothing."""
    old, new = tmp_path / "old", tmp_path / "new"
    assert reconcile_into(old, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(old, emu)
    assert apply(old, "dynamics", only=("update_dynamics",)).exit_code == 0
    moved = moved_cities(sample / ACCOUNTS_FILE, tmp_path / "moved.ndjson",
                         {c["contactid"] for c in emu.contacts.all()}
                         - {op.record for op in operations(old, "update_dynamics")}, 15)
    pulled = tmp_path / "contacts.parquet"
    assert main(["pull", "dynamics", "--out", str(pulled)]) == 0
    assert reconcile_into(new, pulled, tmp_path / "moved.ndjson") == 0
    (new / "apply").mkdir()
    (new / "apply" / "journal.jsonl").write_bytes((old / "apply" / "journal.jsonl").read_bytes())
    vouch(new, emu)
    report = apply(new, "dynamics", only=("update_dynamics",))
    ops = operations(new, "update_dynamics")
    assert report.exit_code == 0 and report.counts["update_dynamics"]["sent"] == len(ops)
    assert report.counts["update_dynamics"]["applied_earlier"] == 0
    assert report.ignored  # the copied entries share keys with the new lines: said, not used
    assert "ignored the journal entries" in "\n".join(report.lines())
    assert all(emu.contacts.get(c)["address1_city"] == city  # type: ignore[index]
               for c, city in moved.items())


def test_another_tenant_entries_do_not_count(emu: Emulator, sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "X"
    assert reconcile_into(out, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(out, emu)
    assert apply(out, "dynamics", only=("update_dynamics",)).exit_code == 0
    journal = out / "apply" / "journal.jsonl"
    entries = read_journal(journal)
    journal.write_text("".join(json.dumps({**e, "tenant": "https://other.crm.dynamics.com"})
                               + "\n" for e in entries))
    emu.requests.clear()
    report = apply(out, "dynamics", only=("update_dynamics",))
    ops = operations(out, "update_dynamics")
    assert len(report.ignored) == len(ops) and report.counts["update_dynamics"]["sent"] == len(ops)
    assert emu.requests.count(method="POST", path=BATCH) >= 1  # sent again: a 412, found applied
    again = apply(out, "dynamics", only=("update_dynamics",))
    assert again.counts["update_dynamics"]["applied_earlier"] == len(ops)
    assert again.counts["update_dynamics"]["sent"] == 0


def _start(run: Path, target: str, emu: Emulator) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "recon.apply", str(run), "--to", target,
                             "--execute", "--batch-size", "5", "--rate", "1000",
                             "--poll-interval", "0.01", "--max-changes", "1000"],
                            env={**os.environ, **emu.env()}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait_for_lock(proc: subprocess.Popen[bytes], lock: Path) -> None:
    """Until ``proc`` holds the lock (its pid is in the file); bounded, no sleeps."""
    for _ in range(50_000):
        if lock.is_file() and lock.read_text().strip() == str(proc.pid):
            return
        try:
            proc.wait(timeout=0.002)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"apply ended before it was seen holding the lock: {proc.returncode}")
    raise AssertionError("apply never took the lock")


@pytest.mark.parametrize("target", ["dynamics", "strivacity"])
def test_a_second_apply_on_the_same_run_is_refused(emu: Emulator, sample: Path, tmp_path: Path,
                                                   target: str) -> None:
    run = tmp_path / "X"
    assert reconcile_into(run, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(run, emu)
    contacts, accounts = len(emu.contacts.all()), len(emu.accounts.all())
    emu.faults.latency = 0.05  # the first apply runs for a while after it takes the lock
    first = _start(run, target, emu)
    try:
        _wait_for_lock(first, run / "apply" / "lock")
        first.send_signal(signal.SIGSTOP)  # holds the lock mid-apply, deterministically
        assert first.poll() is None, "the first apply ended before it could be paused"
        try:
            second = subprocess.run([sys.executable, "-m", "recon.apply", str(run), "--to",
                                     target, "--execute", "--max-changes", "1000"],
                                    env={**os.environ, **emu.env()}, capture_output=True,
                                    text=True, timeout=120)
        finally:
            first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:  # only on a failure above: never leave it running
            first.kill()
            first.communicate()
    emu.faults.latency = 0.0
    assert second.returncode == EXIT_BUSY, second.stderr
    assert f"pid {first.pid}" in second.stderr and str(run) in second.stderr
    assert first.returncode == 0, err.decode()
    entries = read_journal(run / "apply" / "journal.jsonl")
    lines = (run / "apply" / "journal.jsonl").read_text().splitlines()
    assert len(entries) == len(lines)  # whole: every line parses
    keys = [op.key for name in batch_names(target) for op in operations(run, name)]
    sends = [e["key"] for e in entries if e["state"] == "sending" and "detail" not in e]
    assert sorted(sends) == sorted(keys)  # each operation sent once, by one process
    if target == "dynamics":
        creates = len(operations(run, "create_in_dynamics"))
        assert len(emu.contacts.all()) == contacts + creates
        assert emu.requests.count(method="POST", path=BATCH) == -(-len(
            operations(run, "update_dynamics")) // 5) - (-creates // 5)
    else:
        migrates = len(operations(run, "migrate_to_strivacity"))
        assert len(emu.accounts.all()) == accounts + migrates
        assert emu.requests.count(method="POST", path="/admin/api/v1/bulk") == 1
        assert emu.requests.count(status=409) == 0


def test_the_lock_refuses_in_process_and_is_released_after(emu: Emulator, sample: Path,
                                                          tmp_path: Path) -> None:
    run = tmp_path / "X"
    assert reconcile_into(run, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(run, emu)
    with run_lock(run / "apply"):
        assert main(["apply", str(run), "--to", "dynamics", "--execute"]) == EXIT_BUSY
        assert reconcile_into(run, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE,
                              "--overwrite") == EXIT_BUSY
        assert main(["apply", str(run), "--to", "dynamics"]) == 0  # a dry run needs no lock
    assert emu.requests.count(path=BATCH) == 0 and (run / "summary.json").is_file()
    assert main(["apply", str(run), "--to", "dynamics", "--execute"]) == 0


def test_an_apply_stopped_part_way_never_leaves_a_complete_report(
        emu: Emulator, sample: Path, tmp_path: Path) -> None:
    run = tmp_path / "X"
    assert reconcile_into(run, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(run, emu)
    assert apply(run, "dynamics", only=("update_dynamics",)).exit_code == 0
    report = run / "apply" / "report.json"
    assert json.loads(report.read_text())["complete"] is True
    emu.faults.error_rate = 1.0  # every request fails: the $batch is refused as a whole
    with pytest.raises(HttpError):  # exit 4 from the command
        apply(run, "dynamics", only=("create_in_dynamics",))
    emu.faults.error_rate = 0.0
    stopped = json.loads(report.read_text())
    creates = len(operations(run, "create_in_dynamics"))
    assert stopped["complete"] is False and stopped["error"]
    assert stopped["counts"] == {"create_in_dynamics": {
        "sent": 0, "applied_earlier": 0, "conflict": 0, "failed": 0, "unsent": creates}}
    resumed = apply(run, "dynamics")
    assert resumed.exit_code == 0 and resumed.counts["create_in_dynamics"]["sent"] == creates
    assert resumed.counts["update_dynamics"]["applied_earlier"] == len(
        operations(run, "update_dynamics"))
    assert json.loads(report.read_text())["complete"] is True


def test_a_dry_run_after_an_apply_tells_what_was_applied_earlier(
        emu: Emulator, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "X"
    assert reconcile_into(run, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(run, emu)
    assert apply(run, "dynamics", only=("update_dynamics",)).exit_code == 0
    updates, creates = (len(operations(run, name))
                        for name in ("update_dynamics", "create_in_dynamics"))
    for settings in ("configured", "none: the tenant comes from source.json"):
        if settings != "configured":
            for name in emu.env():
                monkeypatch.delenv(name, raising=False)
        emu.requests.clear()
        capsys.readouterr()
        assert main(["apply", str(run), "--to", "dynamics"]) == 0
        out = capsys.readouterr().out
        assert f"applied earlier {updates}, conflicts 0, failed 0, to send 0" in out, settings
        assert f"applied earlier 0, conflicts 0, failed 0, to send {creates}" in out, settings
        assert "ignored the journal" not in out and len(emu.requests) == 0


def test_another_identity_store_is_another_target(emu: Emulator, sample: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "X"
    assert reconcile_into(run, sample / CONTACTS_FILE, sample / ACCOUNTS_FILE) == 0
    vouch(run, emu)
    assert apply(run, "strivacity", only=("migrate_to_strivacity",)).exit_code == 0
    migrates = len(operations(run, "migrate_to_strivacity"))
    capsys.readouterr()
    assert main(["apply", str(run), "--to", "strivacity", "--only", "migrate_to_strivacity"]) == 0
    assert f"applied earlier {migrates}" in capsys.readouterr().out
    monkeypatch.setenv("STRIVACITY_STORE", "elsewhere")
    assert main(["apply", str(run), "--to", "strivacity", "--only", "migrate_to_strivacity"]) == 0
    out = capsys.readouterr().out
    assert f"applied earlier 0, conflicts 0, failed 0, to send {migrates}" in out
    assert f"ignored the journal entries of {migrates} operations" in out
