"""``apply_run(run_dir, options)``: guards, plan, then the journaled send (or its dry run).

A dry run reads the batch files only: no settings, no network. ``--execute`` needs the
target's settings (every missing one is named), holds the run folder's lock for the whole
send, and journals under the run's scope (run id, tenant, operation digest).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from recon.apply.changes import change_lines
from recon.apply.guards import (
    check_age,
    check_changes,
    check_settings,
    check_store,
    check_target,
    source_url,
)
from recon.apply.journal import FileJournal, Journal, MemoryJournal, Scope
from recon.apply.lock import run_lock
from recon.apply.plan import DYNAMICS, Plan, batch_names, build_plan
from recon.apply.rollback import rollback_dynamics, rollback_plan
from recon.apply.run import (
    JOURNAL,
    ROLLBACK_JOURNAL,
    ApplyOptions,
    ApplyReport,
    apply_dynamics,
    apply_strivacity,
    report_name,
    summarize,
    write_outputs,
)
from recon.apply.senders import (
    RecordingDynamics,
    RecordingStrivacity,
    connect_dynamics,
    connect_strivacity,
    recorded,
)
from recon.errors import ConfigError, InputError
from recon.runfolder import APPLY_DIR, BATCHES_DIR
from recon.settings import DEFAULT_STORE, DataverseSettings, StrivacitySettings

Say = Callable[[str], None]
Settings = DataverseSettings | StrivacitySettings
URL_VARIABLE = {DYNAMICS: "DATAVERSE_URL", "strivacity": "STRIVACITY_URL"}
SHOWN = 20  # changes shown per batch on screen; apply/changes.txt holds them all


def _settings(target: str) -> Settings:
    check_settings(target)
    if target == DYNAMICS:
        return DataverseSettings.from_env()
    return StrivacitySettings.from_env()


def _dry_url(run_dir: Path, target: str) -> str | None:
    """The tenant a dry run names: the configured URL if any, else the recorded one."""
    configured = (os.environ.get(URL_VARIABLE[target]) or "").strip().rstrip("/")
    return configured or source_url(run_dir, target)


def _guard(run_dir: Path, options: ApplyOptions, url: str | None, say: Say) -> None:
    """Refuse a stale or foreign run before executing; a dry run only reports it."""
    checks: list[Callable[[], str]] = [
        lambda: check_age(run_dir, options.max_age_hours, options.now)]
    if url is not None:
        checks.append(lambda: check_target(run_dir, options.target, url))
    else:
        say(f"target tenant: not configured ({URL_VARIABLE[options.target]} unset); checked "
            "with --execute")
    if options.target != DYNAMICS:
        store = (os.environ.get("STRIVACITY_STORE") or "").strip() or DEFAULT_STORE
        checks.append(lambda: check_store(run_dir, store))
    for check in checks:
        try:
            say(f"run folder: {check()}")
        except ConfigError as refusal:
            if options.execute and not options.force:
                raise
            say(f"{'forced past' if options.force else 'would refuse'}: {refusal}")


def _size_guard(run_dir: Path, plan: Plan, options: ApplyOptions, say: Say) -> None:
    """The blast-radius guard: ``--force`` does not lift it, only ``--max-changes``."""
    if options.rollback:
        return  # undoes what an allowed apply did: bounded by that
    try:
        verdict = check_changes(run_dir, options.target, len(plan.operations()),
                                options.max_changes)
        say(f"changes: {verdict}")
    except ConfigError as refusal:
        if options.execute:
            raise
        say(f"would refuse: {refusal}")


def _plan(run_dir: Path, options: ApplyOptions, url: str) -> Plan:
    """The plan to send: the chosen batches, or for a rollback the undos of applied updates."""
    if not options.rollback:
        return build_plan(run_dir, options.target, url, options.only, options.limit)
    forward = build_plan(run_dir, options.target, url, ("update_dynamics",), options.limit)
    applied = FileJournal(run_dir / APPLY_DIR / JOURNAL, scope_of(forward, url))
    return rollback_plan(forward, applied.states())


def scope_of(plan: Plan, tenant: str) -> Scope:
    return Scope(plan.run, tenant, {op.key: op.digest for op in plan.operations()})


def target_tenant(target: str, url: str, settings: Settings | None = None) -> str:
    """What the journal calls the target: the URL, and for Strivacity the identity store too
    (two stores of one tenant are two targets)."""
    if target == DYNAMICS:
        return url
    store = settings.store if isinstance(settings, StrivacitySettings) else \
        (os.environ.get("STRIVACITY_STORE") or "").strip() or DEFAULT_STORE
    return f"{url.rstrip('/')}/identityStores/{store}"


@contextmanager
def _locked(run_dir: Path, execute: bool) -> Iterator[None]:
    with run_lock(run_dir / APPLY_DIR) if execute else nullcontext():
        yield


def apply_run(run_dir: str | Path, options: ApplyOptions,
              say: Say = lambda _line: None) -> ApplyReport:
    """Apply (``options.execute``) or plan the run folder's batches for ``options.target``.

    Writes ``apply/plan.json`` always, ``apply/changes.txt`` for a dry run, and
    ``apply/journal.jsonl`` plus ``apply/report.json`` when executing
    (``rollback.jsonl``/``rollback_report.json`` for a rollback). ``say`` receives the lines
    an operator should read before anything is sent.
    """
    run_dir = Path(run_dir)
    if not (run_dir / BATCHES_DIR).is_dir():
        raise InputError("no batches/ folder: this is not a run folder", file=str(run_dir),
                         fix="Point apply at a folder written by `recon reconcile`/`report`.")
    if options.rollback and options.target != DYNAMICS:
        raise ConfigError("--rollback restores Dynamics updates only. Use --to dynamics.")
    batch_names(options.target, options.only)
    settings = _settings(options.target) if options.execute else None
    url = settings.url if settings else _dry_url(run_dir, options.target)
    _guard(run_dir, options, url, say)
    with _locked(run_dir, options.execute):
        plan = _plan(run_dir, options, url or f"<{URL_VARIABLE[options.target]}>")
        _size_guard(run_dir, plan, options, say)
        say(f"target: {options.target} {plan.url}; operations: "
            + ", ".join(f"{name} {n}" for name, n in plan.counts().items()))
        return _apply(run_dir, plan, options, settings, say, tenant_known=url is not None)


def _apply(run_dir: Path, plan: Plan, options: ApplyOptions, settings: Settings | None,
           say: Say, tenant_known: bool) -> ApplyReport:
    """Journal, send (or record), report. A dry run reads this run's journal for the
    tenant it names, if it can name one, to tell what was applied earlier."""
    path = run_dir / APPLY_DIR / (ROLLBACK_JOURNAL if options.rollback else JOURNAL)
    file = FileJournal(path, scope_of(plan, target_tenant(options.target, plan.url, settings)))
    journal: Journal = file if options.execute else \
        MemoryJournal(file.states().values() if tenant_known else ())
    before, changes = journal.states(), None
    ignored = file.ignored() if tenant_known else []
    if options.execute:
        (run_dir / APPLY_DIR / report_name(options.rollback)).unlink(missing_ok=True)
    else:
        changes = list(change_lines(plan))
        for line in change_lines(plan, SHOWN):
            say(line)
    sender = _connect(settings, options, plan.url)
    error = None
    try:
        _run(plan, options, sender, journal)
    except BaseException as failure:  # a report written on the way out never looks complete
        error = str(failure) or type(failure).__name__
        raise
    finally:
        counts, problems = summarize(plan, before, journal.states())
        report = ApplyReport(options.target, plan.url, options.execute, options.rollback,
                             counts, problems, [dict(r) for r in recorded(sender)], plan.run,
                             ignored, error)
        write_outputs(run_dir, plan, report, changes)
    return report


def _connect(settings: Settings | None, options: ApplyOptions, url: str) -> Any:
    """The live target when executing (``settings`` given), else one that only records."""
    if isinstance(settings, StrivacitySettings):
        return connect_strivacity(settings, options.retry, options.rate, options.poll_interval)
    if isinstance(settings, DataverseSettings):
        return connect_dynamics(settings, options.retry)
    if options.target == DYNAMICS:
        return RecordingDynamics(url)
    return RecordingStrivacity(url, os.environ.get("STRIVACITY_STORE") or DEFAULT_STORE)


def _run(plan: Plan, options: ApplyOptions, sender: Any, journal: Journal) -> None:
    """Send (or record) the plan."""
    if options.rollback:
        rollback_dynamics(plan, sender, journal, options.batch_size)
    elif options.target == DYNAMICS:
        apply_dynamics(plan, sender, journal, options.batch_size)
    else:
        apply_strivacity(plan, sender, journal)
