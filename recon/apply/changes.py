"""What a plan changes, per record and field, for people: the dry run's main output.

Read from the batch lines alone (no settings, no network): an update shows ``was -> set`` per
field (``contact 1b2c...: address1_city: Austin -> Round Rock``), a create shows the record's
fields, a Strivacity update the attributes it sets. ``summary`` counts records and fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from recon.apply.plan import Operation, Plan

WIDTH = 60  # longer values are cut for the screen; the batch files hold them whole
EMPTY = "(empty)"


def shown(value: Any) -> str:
    """A value as one screen line: empty ones say so, long ones are cut."""
    if value is None or value == "":
        return EMPTY
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= WIDTH else text[:WIDTH - 1] + "…"


def flat(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, leaf value) for each leaf of a nested dict."""
    if isinstance(value, dict) and value:
        for name, inner in value.items():
            yield from flat(inner, f"{prefix}.{name}" if prefix else str(name))
    else:
        yield prefix, value


def fields_of(op: Operation) -> list[tuple[str, Any, Any]]:
    """(field, earlier value or None when unknown, new value) for each field ``op`` writes."""
    if op.batch.endswith("update_dynamics"):
        was = op.was or {}
        return [(name, was.get(name), value) for name, value in op.body.items()]
    if op.batch == "update_strivacity":
        return [(name, None, value) for name, value in flat(op.body.get("value") or {})]
    if op.batch == "migrate_to_strivacity":
        metadata = ((op.body.get("local") or {}).get("metadata")) or {}
        return [(name, None, value) for name, value in flat(metadata)]
    return [(name, None, value) for name, value in op.body.items() if name != "contactid"]


def describe(op: Operation) -> list[str]:
    """The lines that show what ``op`` changes."""
    fields = fields_of(op)
    if op.method == "PATCH":
        return [f"contact {op.record}: {name}: {shown(was)} -> {shown(new)}"
                for name, was, new in fields]
    if op.method == "BULK":
        return [f"account {op.record}: {name}: -> {shown(new)}" for name, _, new in fields]
    kind = "contact" if op.batch == "create_in_dynamics" else "account"
    return [f"create {kind} {op.record}: "
            + ", ".join(f"{name}={shown(new)}" for name, _, new in fields if new not in (None, ""))]


def summary(plan: Plan) -> dict[str, dict[str, int]]:
    """Per batch: how many records and how many field values it writes."""
    return {name: {"records": len(ops), "fields": sum(len(fields_of(op)) for op in ops)}
            for name, ops in plan.batches.items()}


def change_lines(plan: Plan, first: int | None = None) -> Iterator[str]:
    """A heading per batch with its counts, then what each operation changes (the first
    ``first`` operations of each batch, all when None)."""
    counts = summary(plan)
    for name, ops in plan.batches.items():
        yield (f"{name}: {counts[name]['records']} records, {counts[name]['fields']} field "
               "values")
        for op in ops[:first]:
            yield from (f"  {line}" for line in describe(op))
        if first is not None and len(ops) > first:
            yield f"  ... {len(ops) - first} more records in apply/changes.txt"
