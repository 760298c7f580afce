"""Rolling back applied Dynamics updates: put the ``was`` values back, journaled separately.

Only updates the apply journal records as ``done`` (for this run, tenant and content) are
rolled back, each as its own undo operation (``rollback:<key>``, body ``was``). Each contact is read
fresh: if it still holds what apply wrote, a PATCH with the current etag restores ``was``;
if it already holds ``was`` the step is done; anything else means someone changed it after
apply, and rollback records a conflict instead of overwriting their change.
"""

from __future__ import annotations

from dataclasses import replace

from recon.apply.dynamics import same
from recon.apply.journal import CONFLICT, DONE, FAILED, Journal, Outcome
from recon.apply.plan import Operation, Plan
from recon.apply.run import chunks, sending_entries, write_outcomes
from recon.apply.senders import DynamicsSender

PREFIX = "rollback:"


def undo(op: Operation) -> Operation:
    """The operation that puts ``op.was`` back; its etag is read fresh when it is sent."""
    return replace(op, batch=PREFIX + op.batch, body=dict(op.was or {}), etag=None,
                   was=dict(op.body))


def rollback_plan(plan: Plan, applied: dict[str, dict[str, object]]) -> Plan:
    """The undo operations of the updates of ``plan`` that ``applied`` (the apply journal's
    states of this run) records as done."""
    ops = [undo(op) for op in plan.batches.get("update_dynamics", [])
           if (applied.get(op.key) or {}).get("state") == DONE and op.was]
    return Plan(plan.target, plan.url, {"update_dynamics": ops}, plan.run)


def _reverse(op: Operation, sender: DynamicsSender) -> Operation | Outcome:
    """``op`` (an undo) with a fresh etag, or its outcome when no PATCH is needed."""
    row = sender.read(op.record, list(op.body))
    if row is None:
        return Outcome(op.key, FAILED, 404, "the contact no longer exists")
    if all(same(row.get(k), v) for k, v in op.body.items()):
        return Outcome(op.key, DONE, 200, note="already holds the earlier values")
    changed = [k for k, v in (op.was or {}).items() if k in row and not same(row.get(k), v)]
    if changed:
        return Outcome(op.key, CONFLICT, None, f"changed after apply ({', '.join(changed)}); "
                       "not overwritten")
    return replace(op, etag=row.get("@odata.etag"))


def rollback_dynamics(plan: Plan, sender: DynamicsSender, journal: Journal,
                      batch_size: int) -> None:
    """Restore each applied update whose rollback is not settled yet."""
    states = journal.states()
    ops = [op for op in plan.batches.get("update_dynamics", [])
           if (states.get(op.key) or {}).get("state") not in (DONE, CONFLICT)]
    for chunk in chunks(ops, batch_size):
        patches: list[Operation] = []
        for op in chunk:
            step = _reverse(op, sender)
            if isinstance(step, Outcome):
                journal.write([step.entry(op.record)])
            else:
                patches.append(step)
        if patches:
            journal.write(sending_entries(patches))
            write_outcomes(journal, patches, sender.send(patches))
