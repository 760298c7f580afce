"""``apply_run``: push a run folder's batches to one target, journaled, resumable, dry by default.

Every operation is journaled ``sending`` (fsync'd) before it leaves and with its outcome after.
On a new start, ``done`` and ``conflict`` are skipped, ``failed`` is tried again, and
``sending`` (outcome unknown: the process died) is settled by reading the target first.
The report sorts every operation into one of ``CATEGORIES``: sent now, applied earlier (by
this run's journal), conflict, failed, or not sent; unsent work is never called done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from recon.apply.journal import (
    CONFLICT,
    DONE,
    FAILED,
    SENDING,
    Entry,
    Journal,
    Outcome,
)
from recon.apply.plan import DYNAMICS, Operation, Plan
from recon.apply.senders import DynamicsSender, StrivacitySender
from recon.errors import ConfigError
from recon.private import private_dir, private_tree, write_private_text
from recon.progress import make_progress
from recon.retry import RetryPolicy
from recon.runfolder import APPLY_DIR

MAX_BATCH = 1000
JOURNAL, ROLLBACK_JOURNAL = "journal.jsonl", "rollback.jsonl"
SENT, EARLIER, UNSENT = "sent", "applied_earlier", "unsent"
#: How the report sorts operations, in the order it shows them.
CATEGORIES = (SENT, EARLIER, CONFLICT, FAILED, UNSENT)
LABELS = {SENT: "sent now", EARLIER: "applied earlier", CONFLICT: "conflicts",
          FAILED: "failed", UNSENT: "not sent"}


@dataclass(frozen=True)
class ApplyOptions:
    """How ``recon apply`` runs; the defaults are a dry run of every batch of ``target``."""

    target: str = DYNAMICS
    execute: bool = False
    only: tuple[str, ...] = ()
    limit: int | None = None
    batch_size: int = 100
    rate: float = 10.0
    rollback: bool = False
    force: bool = False
    max_age_hours: float = 24.0
    poll_interval: float = 2.0
    max_changes: int | None = None  # None: the blast-radius default of guards.change_limit
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    now: datetime | None = None  # for the age guard; None is the clock

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ConfigError(f"--batch-size {self.batch_size}: Dataverse takes 1 to "
                              f"{MAX_BATCH} operations per $batch. Pick a size in that range.")
        if self.rate <= 0:
            raise ConfigError(f"--rate {self.rate:g}: give a positive number of requests a "
                              "second, e.g. --rate 10.")
        if self.max_changes is not None and self.max_changes < 0:
            raise ConfigError(f"--max-changes {self.max_changes}: give 0 or more changes.")


@dataclass(frozen=True)
class ApplyReport:
    """What an apply (or dry run) did: counts per batch and category, and each problem.

    ``ignored`` lists the keys whose journal entries belong to another run, tenant or
    operation content (not counted); ``error`` is set when the apply stopped part way.
    """

    target: str
    url: str
    executed: bool
    rollback: bool
    counts: dict[str, dict[str, int]]
    problems: list[dict[str, Any]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    run: str = ""
    ignored: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when everything is applied (or, dry, planned), else 1 (the report lists why)."""
        unsent = sum(states.get(UNSENT, 0) for states in self.counts.values())
        return 1 if self.problems or self.error or (self.executed and unsent) else 0

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "url": self.url, "run": self.run,
                "executed": self.executed, "rollback": self.rollback,
                "complete": self.error is None, "error": self.error, "counts": self.counts,
                "problems": self.problems, "ignored_journal_keys": self.ignored}

    def lines(self) -> list[str]:
        verb = "applied" if self.executed else "dry run (nothing sent)"
        if self.error:
            verb = f"stopped part way ({self.error})"
        labels = {**LABELS, UNSENT: "not sent" if self.executed else "to send"}
        shown = CATEGORIES if self.executed else CATEGORIES[1:]  # a dry run sends nothing
        out = [f"{'rollback' if self.rollback else 'apply'} to {self.target} {self.url}: {verb}"]
        out += [f"  {name:<22} " + ", ".join(f"{labels[c]} {states.get(c, 0)}" for c in shown)
                for name, states in self.counts.items()]
        if self.ignored:
            out.append(f"  ignored the journal entries of {len(self.ignored)} operations: "
                       "written for another run, tenant or content (their work was not "
                       "counted as done)")
        out += [f"  {p['state']}: {p['key']} {p['record']}: {p.get('status')} {p.get('error')}"
                for p in self.problems[:20]]
        if len(self.problems) > 20:
            out.append(f"  ... {len(self.problems) - 20} more in apply/report.json")
        return out


def chunks(ops: Sequence[Operation], size: int) -> Iterator[Sequence[Operation]]:
    for start in range(0, len(ops), size):
        yield ops[start:start + size]


def sending_entries(ops: Sequence[Operation], **extra: Any) -> list[dict[str, Any]]:
    """The journal entries that say ``ops`` are about to leave."""
    return [{"key": op.key, "record": op.record, "state": SENDING, **extra} for op in ops]


def write_outcomes(journal: Journal, ops: Sequence[Operation],
                   outcomes: Sequence[Outcome]) -> None:
    """Journal each operation's outcome (one fsync for the lot)."""
    journal.write(o.entry(op.record) for op, o in zip(ops, outcomes, strict=True))


def _still_to_send(ops: Sequence[Operation], journal: Journal,
                   resolve: Any) -> list[Operation]:
    """Operations to send now: skip settled ones, settle unknown ones by reading the target."""
    states, todo = journal.states(), []
    for op in ops:
        state = (states.get(op.key) or {}).get("state")
        if state in (DONE, CONFLICT):
            continue
        if state == SENDING:
            outcome = resolve(op)
            if outcome is not None:
                write_outcomes(journal, [op], [outcome])
                continue
        todo.append(op)
    return todo


def apply_dynamics(plan: Plan, sender: DynamicsSender, journal: Journal,
                   batch_size: int) -> None:
    """Send the plan's Dataverse batches in ``$batch`` requests of ``batch_size``."""
    total = sum(len(ops) for ops in plan.batches.values())
    with make_progress("Dataverse apply", total, unit="operations", page_unit="requests") as bar:
        for ops in plan.batches.values():
            todo = _still_to_send(ops, journal, sender.resolve)
            bar.update(len(ops) - len(todo), 0)  # settled earlier
            for chunk in chunks(todo, batch_size):
                journal.write(sending_entries(chunk))
                write_outcomes(journal, chunk, sender.send(chunk))
                bar.update(len(chunk))


def apply_strivacity(plan: Plan, sender: StrivacitySender, journal: Journal) -> None:
    """Create accounts one by one, then run the updates as one bulk job."""
    creates = plan.batches.get("migrate_to_strivacity", [])
    with make_progress("Strivacity accounts created", len(creates), unit="accounts",
                       page_unit="requests") as bar:
        todo = _still_to_send(creates, journal, sender.resolve)
        bar.update(len(creates) - len(todo), 0)
        for op in todo:
            journal.write(sending_entries([op]))
            write_outcomes(journal, [op], [sender.create(op)])
            bar.update(1)
    updates = plan.batches.get("update_strivacity", [])
    if updates:
        _finish_jobs(updates, sender, journal)
        todo = _still_to_send(updates, journal, sender.resolve)
        if todo:
            journal.write(sending_entries(todo))
            job = sender.submit(todo)
            journal.write([{**entry, "detail": {"job": job, "line": n}} for n, entry
                           in enumerate(sending_entries(todo), start=1)])
            with make_progress("Strivacity bulk update job", len(todo), unit="operations",
                               page_unit="jobs") as bar:
                write_outcomes(journal, todo, sender.finish(job, list(enumerate(todo, start=1))))
                bar.update(len(todo))


def _finish_jobs(ops: Sequence[Operation], sender: StrivacitySender, journal: Journal) -> None:
    """After a restart, poll the bulk jobs that were submitted but not seen to the end."""
    states = journal.states()
    jobs: dict[str, list[tuple[int, Operation]]] = {}
    for op in ops:
        entry = states.get(op.key) or {}
        detail = entry.get("detail") or {}
        if entry.get("state") == SENDING and detail.get("job") and detail.get("line"):
            jobs.setdefault(detail["job"], []).append((int(detail["line"]), op))
    for job, lines in jobs.items():
        write_outcomes(journal, [op for _, op in lines], sender.finish(job, lines))


def category(before: Entry | None, after: Entry | None) -> str:
    """Where an operation lands in the report, from its journal state before and after."""
    state = (after or {}).get("state")
    if state == DONE:
        return EARLIER if (before or {}).get("state") == DONE else SENT
    return state if state in (CONFLICT, FAILED) else UNSENT


def summarize(plan: Plan, before: dict[str, Entry],
              after: dict[str, Entry]) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    """Counts per batch and category, and the problem entries, from the journal states
    before and after this apply (both of this run's scope)."""
    counts: dict[str, dict[str, int]] = {}
    problems = []
    for name, ops in plan.batches.items():
        tally = dict.fromkeys(CATEGORIES, 0)
        for op in ops:
            entry = after.get(op.key)
            found = category(before.get(op.key), entry)
            tally[found] += 1
            if entry is not None and found in (CONFLICT, FAILED):
                problems.append({k: entry.get(k) for k in ("key", "record", "state", "status",
                                                           "error", "note")})
        counts[name] = tally
    return counts, problems


def report_name(rollback: bool) -> str:
    return "rollback_report.json" if rollback else "report.json"


def write_outputs(run_dir: Path, plan: Plan, report: ApplyReport,
                  changes: list[str] | None = None) -> None:
    """plan.json always; report.json (or rollback_report.json) when executing; the dry run's
    per-field ``changes`` as changes.txt."""
    folder = private_dir(run_dir / APPLY_DIR)
    plan_json = {**plan.to_json(), "execute": report.executed, "rollback": report.rollback,
                 "requests": report.requests[:20]}
    write_private_text(folder / "plan.json", json.dumps(plan_json, indent=2, ensure_ascii=False)
                  + "\n")
    if changes is not None:
        write_private_text(folder / "changes.txt", "".join(line + "\n" for line in changes))
    if report.executed:
        write_private_text(folder / report_name(report.rollback),
                      json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    private_tree(folder)
