"""``apply_run(run_dir, options)``: guards, plan, then the journaled send (or its dry run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from recon.apply.guards import check_age, check_target
from recon.apply.journal import FileJournal, Journal
from recon.apply.plan import DYNAMICS, Plan, batch_names, build_plan
from recon.apply.rollback import PREFIX, rollback_dynamics, rollback_plan
from recon.apply.run import (
    APPLY_DIR,
    JOURNAL,
    ApplyOptions,
    ApplyReport,
    apply_dynamics,
    apply_strivacity,
    open_journal,
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
from recon.settings import DataverseSettings, StrivacitySettings

Say = Callable[[str], None]


def _settings(target: str) -> DataverseSettings | StrivacitySettings:
    if target == DYNAMICS:
        return DataverseSettings.from_env()
    return StrivacitySettings.from_env()


def _guard(run_dir: Path, options: ApplyOptions, url: str, say: Say) -> None:
    """Refuse a stale or foreign run before executing; a dry run only reports it."""
    for check in (lambda: check_age(run_dir, options.max_age_hours, options.now),
                  lambda: check_target(run_dir, options.target, url)):
        try:
            say(f"run folder: {check()}")
        except ConfigError as refusal:
            if options.execute and not options.force:
                raise
            say(f"{'forced past' if options.force else 'would refuse'}: {refusal}")


def _sender(settings: DataverseSettings | StrivacitySettings, options: ApplyOptions) -> Any:
    """The live target when executing, a recording one for a dry run."""
    if isinstance(settings, DataverseSettings):
        live = connect_dynamics(settings, options.retry) \
            if options.execute or options.rollback else None
        if options.execute:
            return live
        return RecordingDynamics(settings.url, reader=live)
    if options.execute:
        return connect_strivacity(settings, options.retry, options.rate, options.poll_interval)
    return RecordingStrivacity(settings.url, settings.store)


def _run(run_dir: Path, plan: Plan, options: ApplyOptions, sender: Any,
         journal: Journal) -> Plan:
    """Send (or record) the plan; returns the plan the report counts."""
    if options.rollback:
        applied = FileJournal(run_dir / APPLY_DIR / JOURNAL).states()
        plan = rollback_plan(plan, applied)
        rollback_dynamics(plan, sender, journal, options.batch_size)
    elif options.target == DYNAMICS:
        apply_dynamics(plan, sender, journal, options.batch_size)
    else:
        apply_strivacity(plan, sender, journal)
    return plan


def apply_run(run_dir: str | Path, options: ApplyOptions,
              say: Say = lambda _line: None) -> ApplyReport:
    """Apply (``options.execute``) or plan the run folder's batches for ``options.target``.

    Writes ``apply/plan.json`` always, and ``apply/journal.jsonl`` plus ``apply/report.json``
    when executing (``rollback.jsonl``/``rollback_report.json`` for a rollback). ``say``
    receives the lines an operator should read before anything is sent.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "batches").is_dir():
        raise InputError("no batches/ folder: this is not a run folder", file=str(run_dir),
                         fix="Point apply at a folder written by `recon reconcile`/`report`.")
    if options.rollback and options.target != DYNAMICS:
        raise ConfigError("--rollback restores Dynamics updates only. Use --to dynamics.")
    settings = _settings(options.target)
    batch_names(options.target, options.only)
    _guard(run_dir, options, settings.url, say)
    plan = build_plan(run_dir, options.target, settings.url,
                      ("update_dynamics",) if options.rollback else options.only, options.limit)
    say(f"target: {options.target} {settings.url}; operations: "
        + ", ".join(f"{name} {n}" for name, n in plan.counts().items()))
    journal = open_journal(run_dir, options.execute, options.rollback)
    sender = _sender(settings, options)
    plan = _run(run_dir, plan, options, sender, journal)
    counts, problems = summarize(plan, journal, PREFIX if options.rollback else "")
    report = ApplyReport(options.target, settings.url, options.execute, options.rollback,
                         counts, problems, [dict(r) for r in recorded(sender)])
    write_outputs(run_dir, plan, report)
    return report
