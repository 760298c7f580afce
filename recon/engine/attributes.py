"""Strivacity attribute paths: which path a field writes to, and dotted paths as nested JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from recon.fields import Field

#: Paths read from the account itself, not attributes: they cannot go in ``local.metadata``
#: or an ``updatePersonalData`` value.
_NOT_ATTRIBUTES = ("identities.", "enabled")


def attribute_path(field: Field) -> str | None:
    """The first attribute path of ``field`` that is a writable attribute, or None."""
    for path in field.strivacity:
        if not path.startswith(_NOT_ATTRIBUTES):
            return path
    return None


def nest(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``[("name.givenName", "Jo")]`` -> ``{"name": {"givenName": "Jo"}}``."""
    out: dict[str, Any] = {}
    for path, value in items:
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def nests_by_column(paths: Sequence[str]) -> bool:
    """True when ``nest`` of these paths, in this order, gives every row the same key order.

    That holds when each parent's paths are adjacent and no path is also another's parent;
    otherwise where a key lands would depend on which values a row has.
    """
    parts = [tuple(path.split(".")) for path in paths]
    where: dict[tuple[str, ...], list[int]] = {}
    for index, p in enumerate(parts):
        for depth in range(1, len(p)):
            where.setdefault(p[:depth], []).append(index)
    return (len(set(parts)) == len(parts) and not any(p in where for p in parts)
            and all(rows[-1] - rows[0] + 1 == len(rows) for rows in where.values()))


def nested_text(paths: Sequence[str], values: Sequence[pa.Array], rows: int,
                json_key: Callable[[str], str]) -> pa.Array:
    """``nest`` column-wise: each row's JSON object text, leaving out null values.

    ``values`` are JSON texts (null: leave the key out) and ``json_key`` encodes a key; the
    caller checks ``nests_by_column(paths)`` first.
    """
    items = [(tuple(path.split(".")), value) for path, value in zip(paths, values, strict=True)]
    return pc.binary_join_element_wise("{", _members(items, rows, json_key), "}", "")


def _members(items: list[tuple[tuple[str, ...], pa.Array]], rows: int,
             json_key: Callable[[str], str]) -> pa.Array:
    """One object level's ``"key":value`` members joined by commas ("" when all are null)."""
    members = []
    start = 0
    while start < len(items):
        head, end = items[start][0][0], start + 1
        if len(items[start][0]) == 1:
            member = items[start][1]
        else:
            while end < len(items) and items[end][0][0] == head:
                end += 1
            inner = _members([(p[1:], v) for p, v in items[start:end]], rows, json_key)
            member = pc.if_else(pc.equal(inner, ""), pa.scalar(None, pa.string()),
                                pc.binary_join_element_wise("{", inner, "}", ""))
        members.append(pc.binary_join_element_wise(json_key(head) + ":", member, ""))
        start = end
    return join_members(members, rows)


def join_members(members: Sequence[pa.Array], rows: int) -> pa.Array:
    """Per row, the non-null ``members`` joined by commas ("" when there are none)."""
    if not members:
        return pa.array([""] * rows, pa.string())
    # Not null_handling="skip": pyarrow 26 drops the rows whose members are all null.
    parts = [pc.fill_null(pc.binary_join_element_wise(",", m, ""), "") for m in members]
    return pc.utf8_slice_codeunits(pc.binary_join_element_wise(*parts, ""), 1)
