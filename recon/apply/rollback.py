"""Rolling back applied Dynamics updates: put the ``was`` values back, journaled separately.

Only updates the apply journal records as ``done`` are rolled back. Each contact is read
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


def rollback_plan(plan: Plan, applied: dict[str, dict[str, object]]) -> Plan:
    """The updates of ``plan`` that the apply journal (``applied``) records as done."""
    ops = [op for op in plan.batches.get("update_dynamics", [])
           if (applied.get(op.key) or {}).get("state") == DONE and op.was]
    return Plan(plan.target, plan.url, {"update_dynamics": ops})


def _reverse(op: Operation, sender: DynamicsSender) -> Operation | Outcome:
    """The PATCH that restores ``op.was`` with a fresh etag, or the outcome without one."""
    key = PREFIX + op.key
    was = op.was or {}
    row = sender.read(op.record, list(was))
    if row is None:
        return Outcome(key, FAILED, 404, "the contact no longer exists")
    if all(same(row.get(k), v) for k, v in was.items()):
        return Outcome(key, DONE, 200, note="already holds the earlier values")
    changed = [k for k, v in op.body.items() if k in row and not same(row.get(k), v)]
    if changed:
        return Outcome(key, CONFLICT, None, f"changed after apply ({', '.join(changed)}); "
                       "not overwritten")
    return replace(op, batch=PREFIX + op.batch, body=dict(was), etag=row.get("@odata.etag"),
                   was=dict(op.body))


def rollback_dynamics(plan: Plan, sender: DynamicsSender, journal: Journal,
                      batch_size: int) -> None:
    """Restore each applied update whose rollback is not settled yet."""
    states = journal.states()
    ops = [op for op in plan.batches.get("update_dynamics", [])
           if (states.get(PREFIX + op.key) or {}).get("state") not in (DONE, CONFLICT)]
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
