"""Issue 10 without a server: the dry run needs no settings and shows changes, --execute names
every missing setting, the blast-radius guard, the journal's scope, the report's categories,
and ``recon reconcile --out`` over an earlier run."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from recon.api import reconcile_files
from recon.apply import main_apply, record_source
from recon.apply.changes import describe
from recon.apply.guards import check_changes, check_settings
from recon.apply.journal import FileJournal, Scope, read_journal
from recon.apply.lock import EXIT_BUSY, RunBusy
from recon.apply.plan import Operation, operations
from recon.apply.run import ApplyReport, category
from recon.cli import main
from recon.errors import ConfigError
from recon.runner import _new_run_dir
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate
from recon.settings import VARIABLES

FAKE = {"DATAVERSE_URL": "https://nowhere.invalid", "AZURE_TENANT_ID": "t",
        "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s",
        "STRIVACITY_URL": "https://nowhere-else.invalid", "STRIVACITY_CLIENT_ID": "c",
        "STRIVACITY_CLIENT_SECRET": "s"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("guards") / "sample", contacts=300, seed=11)


@pytest.fixture
def run(sample: Path, tmp_path: Path) -> Path:
    reconcile_files(sample / CONTACTS_FILE, sample / ACCOUNTS_FILE, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No recon setting at all in the environment."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- point 11: the dry run -------------------------------------------------------------------

def test_dry_run_with_no_settings_shows_field_changes(run: Path, bare_env: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main_apply([str(run), "--to", "dynamics"]) == 0
    out = capsys.readouterr().out
    first = operations(run, "update_dynamics")[0]
    field, new = next(iter(first.body.items()))
    assert f"contact {first.record}: {field}: {first.was[field]} -> {new}" in out  # type: ignore[index]
    assert "update_dynamics: 14 records" in out and "create_in_dynamics: 52 records" in out
    assert "create contact " in out and "to send 14" in out and "Nothing was sent" in out
    assert "sent now" not in out and "done" not in out  # unsent work is never called sent
    changes = (run / "apply" / "changes.txt").read_text(encoding="utf-8")
    assert changes.count("\n  create contact ") == 52
    assert stat.S_IMODE((run / "apply" / "changes.txt").stat().st_mode) == 0o600
    assert main_apply([str(run), "--to", "strivacity"]) == 0
    out = capsys.readouterr().out
    assert "create account " in out and ": crm.dynamicsContactId: -> " in out


def test_dry_run_in_a_process_with_an_empty_environment(run: Path) -> None:
    """No settings, no server anywhere: the dry run still succeeds and shows the changes."""
    done = subprocess.run([sys.executable, "-m", "recon.apply", str(run), "--to", "dynamics",
                           "--rollback"], env={"PATH": os.environ.get("PATH", "")},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "recon.apply", str(run), "--to", "dynamics"],
                          env={"PATH": os.environ.get("PATH", "")}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert " -> " in done.stdout and "not configured (DATAVERSE_URL unset)" in done.stdout


@pytest.mark.parametrize(("target", "given", "missing"), [
    ("dynamics", {}, ["DATAVERSE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
                      "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH"]),
    ("dynamics", {"DATAVERSE_URL": "https://x.crm.dynamics.com", "AZURE_CLIENT_ID": "c"},
     ["AZURE_TENANT_ID", "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH"]),
    ("strivacity", {}, ["STRIVACITY_URL", "STRIVACITY_CLIENT_ID", "STRIVACITY_CLIENT_SECRET"]),
    ("strivacity", {"STRIVACITY_CLIENT_SECRET": " "},
     ["STRIVACITY_URL", "STRIVACITY_CLIENT_ID", "STRIVACITY_CLIENT_SECRET"]),
])
def test_execute_names_every_missing_setting(run: Path, bare_env: None,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str], target: str,
                                             given: dict[str, str], missing: list[str]) -> None:
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    assert main_apply([str(run), "--to", target, "--execute"]) == 2
    err = capsys.readouterr().err
    for name in missing:
        assert name in err
    for name in set(given) - {n for group in missing for n in group.split(" or ")}:
        assert f"{name} (" not in err
    assert not (run / "apply" / "journal.jsonl").exists()


def test_check_settings_accepts_a_certificate_instead_of_a_secret() -> None:
    env = {**FAKE, "AZURE_CLIENT_SECRET": "", "AZURE_CLIENT_CERTIFICATE_PATH": "/k.pem"}
    check_settings("dynamics", env)
    with pytest.raises(ConfigError, match="AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH"):
        check_settings("dynamics", {**env, "AZURE_CLIENT_CERTIFICATE_PATH": ""})


# --- point 16: the blast-radius guard --------------------------------------------------------

def _summary(folder: Path, **records: int) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "summary.json").write_text(json.dumps({side: {"records": n}
                                                     for side, n in records.items()}))
    return folder


@pytest.mark.parametrize(("records", "limit"), [(0, 100), (300, 100), (1000, 100),
                                                (1001, 101), (2000, 200), (45_000, 4500)])
def test_default_limit_at_below_and_above(tmp_path: Path, records: int, limit: int) -> None:
    folder = _summary(tmp_path, dynamics=records)
    assert f"limit of {limit}" in check_changes(folder, "dynamics", limit - 1)
    assert f"limit of {limit}" in check_changes(folder, "dynamics", limit)
    with pytest.raises(ConfigError, match=rf"{limit + 1} changes to dynamics, more than the "
                       rf"limit of {limit} .*--max-changes {limit + 1}"):
        check_changes(folder, "dynamics", limit + 1)


def test_limit_is_the_target_side_and_max_changes_overrides(tmp_path: Path) -> None:
    folder = _summary(tmp_path, dynamics=100, strivacity=5000)
    check_changes(folder, "strivacity", 500)
    with pytest.raises(ConfigError, match="limit of 100"):
        check_changes(folder, "dynamics", 500)
    assert "limit of 500 (--max-changes)" in check_changes(folder, "dynamics", 500, 500)
    with pytest.raises(ConfigError, match="limit of 499 \\(--max-changes\\)"):
        check_changes(folder, "dynamics", 500, 499)
    with pytest.raises(ConfigError, match="limit of 0"):
        check_changes(folder, "dynamics", 1, 0)
    (folder / "summary.json").write_text("{}")
    with pytest.raises(ConfigError, match="does not say how many dynamics records"):
        check_changes(folder, "dynamics", 101)


def test_execute_above_the_limit_is_refused_before_any_request(
        run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in FAKE.items():  # hosts that do not resolve: a request would fail loudly
        monkeypatch.setenv(name, value)
    record_source(run, dataverse_url=FAKE["DATAVERSE_URL"], strivacity_url=FAKE["STRIVACITY_URL"])
    changes = len(operations(run, "migrate_to_strivacity")) \
        + len(operations(run, "update_strivacity"))
    assert changes == 208  # 52 of them the link write-backs of the contacts this run creates
    assert main_apply([str(run), "--to", "strivacity", "--execute", "--force"]) == 2
    err = capsys.readouterr().err
    assert "208 changes to strivacity, more than the limit of 100" in err
    assert "--max-changes 208" in err and not (run / "apply" / "journal.jsonl").exists()
    assert main_apply([str(run), "--to", "strivacity", "--max-changes", "207"]) == 0
    assert "would refuse: " in capsys.readouterr().out
    assert main_apply([str(run), "--to", "strivacity", "--max-changes", "208"]) == 0
    assert "208 changes, within the limit of 208 (--max-changes)" in capsys.readouterr().out
    assert main_apply([str(run), "--to", "dynamics", "--only", "update_dynamics"]) == 0
    assert "14 changes, within the limit of 100" in capsys.readouterr().out
    assert main_apply([str(run), "--to", "dynamics", "--max-changes", "-1"]) == 2


# --- point 8: the journal's scope and the report's categories ---------------------------------

def test_journal_counts_only_its_own_run_tenant_and_content(tmp_path: Path) -> None:
    path = tmp_path / "apply" / "journal.jsonl"
    ops = {"update_dynamics:1": "aaa", "update_dynamics:2": "bbb", "update_dynamics:3": "ccc",
           "update_dynamics:4": "ddd"}
    FileJournal(path, Scope("run-old", "https://x.crm.dynamics.com", ops)).write(
        [{"key": "update_dynamics:1", "record": "r1", "state": "done"}])
    FileJournal(path, Scope("run-new", "https://other.crm.dynamics.com", ops)).write(
        [{"key": "update_dynamics:2", "record": "r2", "state": "done"}])
    FileJournal(path, Scope("run-new", "https://x.crm.dynamics.com", {**ops,
                                                                      "update_dynamics:3": "zzz"})
                ).write([{"key": "update_dynamics:3", "record": "r3", "state": "done"}])
    with path.open("a") as legacy:  # written before entries were scoped
        legacy.write(json.dumps({"key": "update_dynamics:4", "state": "done"}) + "\n")
    mine = FileJournal(path, Scope("run-new", "HTTPS://X.crm.dynamics.com/", ops))
    assert mine.states() == {}
    assert mine.ignored() == sorted(ops)
    mine.write([{"key": "update_dynamics:2", "record": "r2", "state": "done"}])
    assert list(mine.states()) == ["update_dynamics:2"]
    assert mine.ignored() == ["update_dynamics:1", "update_dynamics:3", "update_dynamics:4"]
    for run, key in (("run-new", "job:update_strivacity"), ("run-old", "job:other")):
        FileJournal(path, Scope(run, "https://x.crm.dynamics.com", ops)).write(
            [{"key": key, "state": "sending"}])  # a key of no operation: run and tenant decide
    assert sorted(mine.states()) == ["job:update_strivacity", "update_dynamics:2"]
    mine.write([{"key": "update_dynamics:2", "record": "r2", "state": "done"}])
    last = read_journal(path)[-1]
    assert (last["run"], last["tenant"], last["op"]) == ("run-new", "https://x.crm.dynamics.com",
                                                         "bbb")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_operation_digest_follows_what_is_sent() -> None:
    base = Operation("update_dynamics", 1, "id1", "PATCH", "contacts(id1)", {"a": "1", "b": "2"},
                     etag='W/"1"')
    assert base.digest == Operation("update_dynamics", 1, "id1", "PATCH", "contacts(id1)",
                                    {"b": "2", "a": "1"}).digest  # key order is not content
    for other in (Operation("update_dynamics", 1, "id1", "PATCH", "contacts(id1)", {"a": "9"}),
                  Operation("update_dynamics", 1, "id2", "PATCH", "contacts(id2)", {"a": "1"}),
                  Operation("update_dynamics", 1, "id1", "POST", "contacts", {"a": "1"})):
        assert other.digest != base.digest


@pytest.mark.parametrize(("before", "after", "expected"), [
    (None, None, "unsent"), (None, "sending", "unsent"), (None, "planned", "unsent"),
    ("sending", "sending", "unsent"), (None, "done", "sent"), ("sending", "done", "sent"),
    ("failed", "done", "sent"), ("done", "done", "applied_earlier"),
    (None, "conflict", "conflict"), ("conflict", "conflict", "conflict"),
    ("failed", "failed", "failed"), (None, "failed", "failed")])
def test_report_categories(before: str | None, after: str | None, expected: str) -> None:
    assert category(before and {"state": before}, after and {"state": after}) == expected


def test_unsent_work_after_an_execute_is_not_success() -> None:
    counts = {"update_dynamics": {"sent": 3, "applied_earlier": 1, "conflict": 0, "failed": 0,
                                  "unsent": 1}}
    executed = ApplyReport("dynamics", "https://x", True, False, counts, [])
    assert executed.exit_code == 1 and "not sent 1" in "\n".join(executed.lines())
    assert ApplyReport("dynamics", "https://x", False, False, counts, []).exit_code == 0
    done = {"update_dynamics": {**counts["update_dynamics"], "unsent": 0}}
    assert ApplyReport("dynamics", "https://x", True, False, done, []).exit_code == 0
    stopped = ApplyReport("dynamics", "https://x", True, False, done, [], error="HTTP 503")
    assert stopped.exit_code == 1 and stopped.to_json()["complete"] is False


def test_changes_show_was_and_set_per_field() -> None:
    update = Operation("update_dynamics", 1, "1b2c", "PATCH", "contacts(1b2c)",
                       {"address1_city": "Round Rock", "telephone1": "+15125550100"},
                       was={"address1_city": "Austin", "telephone1": ""})
    assert describe(update) == ["contact 1b2c: address1_city: Austin -> Round Rock",
                                "contact 1b2c: telephone1: (empty) -> +15125550100"]
    bulk = Operation("update_strivacity", 2, "acc", "BULK", "bulk",
                     {"accountId": "acc", "value": {"crm": {"dynamicsContactId": "c1"},
                                                    "name": {"givenName": "A\nB"}}})
    assert describe(bulk) == ["account acc: crm.dynamicsContactId: -> c1",
                              "account acc: name.givenName: -> A\\nB"]
    create = Operation("create_in_dynamics", 3, "c3", "POST", "contacts",
                       {"emailaddress1": "x@y.z", "firstname": "L" * 80, "contactid": "c3"})
    (line,) = describe(create)
    assert line.startswith("create contact c3: emailaddress1=x@y.z, firstname=LLL")
    assert line.endswith("…") and "contactid=" not in line


# --- point 8: reconcile --out over an earlier run; report's stamped folders -------------------

def _reconcile(sample: Path, out: Path, *extra: str) -> int:
    return main(["reconcile", "--dynamics", str(sample / CONTACTS_FILE),
                 "--strivacity", str(sample / ACCOUNTS_FILE), "--out", str(out), *extra])


def test_reconcile_out_must_be_new_or_empty(sample: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _reconcile(sample, tmp_path / "new") == 0
    (tmp_path / "empty").mkdir()
    assert _reconcile(sample, tmp_path / "empty") == 0
    run = tmp_path / "new"
    (run / "apply").mkdir()
    (run / "apply" / "journal.jsonl").write_text('{"key": "update_dynamics:1"}\n')
    summary = (run / "summary.json").read_bytes()
    capsys.readouterr()
    assert _reconcile(sample, run) == 2
    err = capsys.readouterr().err
    assert f"--out {run} is not empty" in err and "--overwrite" in err
    assert (run / "apply" / "journal.jsonl").is_file() and \
        (run / "summary.json").read_bytes() == summary


def test_overwrite_clears_the_run_and_its_apply_state(sample: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _reconcile(sample, run) == 0
    record_source(run, dataverse_url="https://x.crm.dynamics.com")
    (run / "apply").mkdir()
    for name in ("journal.jsonl", "report.json", "plan.json", "rollback.jsonl"):
        (run / "apply" / name).write_text("{}\n")
    (run / "notes.txt").write_text("left by hand")
    (run / "batches" / "old_extra.jsonl").write_text("{}\n")
    assert _reconcile(sample, run, "--overwrite") == 0
    assert sorted(p.name for p in (run / "apply").iterdir()) == ["lock"]
    assert not (run / "source.json").exists() and not (run / "notes.txt").exists()
    assert not (run / "batches" / "old_extra.jsonl").exists()
    assert (run / "summary.json").is_file()
    assert (run / "batches" / "update_dynamics.jsonl").is_file()


def test_a_failed_overwrite_leaves_the_old_run_whole(sample: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _reconcile(sample, run) == 0
    (run / "apply").mkdir()
    (run / "apply" / "journal.jsonl").write_text("{}\n")
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.csv"
    bad.write_text("nickname,shoe_size\nBo,44\n")  # no contactid, no email: an InputError
    assert main(["reconcile", "--dynamics", str(bad), "--strivacity",
                 str(sample / ACCOUNTS_FILE), "--out", str(run), "--overwrite"]) == 2
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()
             and p.name != "lock"}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "run"]  # no staging left


def test_a_folder_left_with_only_the_lock_counts_as_empty(sample: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "apply").mkdir(parents=True)
    (run / "apply" / "lock").write_text("123\n")
    assert _reconcile(sample, run) == 0 and (run / "summary.json").is_file()


def test_overwrite_never_empties_a_folder_that_is_not_a_run(sample: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "thesis.docx").write_text("precious")
    assert _reconcile(sample, folder, "--overwrite") == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert (folder / "thesis.docx").read_text() == "precious"
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.docx"]
    (tmp_path / "file").write_text("x")
    assert _reconcile(sample, tmp_path / "file", "--overwrite") == 2


def test_report_runs_always_get_a_new_folder(tmp_path: Path) -> None:
    made = [_new_run_dir(tmp_path, "nightly") for _ in range(3)]
    assert len(set(made)) == 3 and all(not any(p.iterdir()) for p in made)


def test_exit_code_5_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert EXIT_BUSY == RunBusy.exit_code == 5
    assert "| 5 | busy: another `recon apply` (or `reconcile --overwrite`) holds the run " \
        "folder's lock" in readme


def test_strivacity_apply_refuses_a_run_made_for_another_identity_store(
        run: Path, bare_env: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Reconciled without a store: the bulk lines name "default". Creates would go to the
    # configured store and updates to "default": refused before any request.
    for name, value in FAKE.items():  # hosts that do not resolve: a request would fail loudly
        monkeypatch.setenv(name, value)
    record_source(run, strivacity_url=FAKE["STRIVACITY_URL"])
    monkeypatch.setenv("STRIVACITY_STORE", "brand-x")
    base = [str(run), "--to", "strivacity", "--max-changes", "10000"]
    assert main_apply([*base, "--execute"]) == 2
    err = capsys.readouterr().err
    assert "another identity store" in err and "'default'" in err and "'brand-x'" in err
    assert not (run / "apply" / "journal.jsonl").exists()
    assert main_apply(base) == 0  # a dry run says it would refuse
    assert "would refuse: " in capsys.readouterr().out


def test_a_run_pulled_from_another_store_is_refused_and_the_same_store_accepted(
        run: Path, bare_env: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    record_source(run, strivacity_url=FAKE["STRIVACITY_URL"], strivacity_store="brand-y")
    monkeypatch.setenv("STRIVACITY_STORE", "default")
    base = [str(run), "--to", "strivacity", "--max-changes", "10000"]
    assert main_apply(base) == 0
    out = capsys.readouterr().out
    assert "would refuse: " in out and "pulled from store 'brand-y'" in out
    record_source(run, strivacity_url=FAKE["STRIVACITY_URL"], strivacity_store="default")
    assert main_apply(base) == 0
    out = capsys.readouterr().out
    assert "run folder: identity store 'default'" in out and "another identity store" not in out
