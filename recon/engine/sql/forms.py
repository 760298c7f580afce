"""Normalised forms of the values the plan needs, from ``recon.normalize`` (one implementation).

The plan collects the distinct ``(kind, value)`` pairs it will compare or write (step
``needed_values``); Python normalises each distinct value once, vectorised; the result is
registered as the table ``forms`` that later steps join on. Kinds are comparers: ``text``
(``text``: NFC, trimmed, collapsed; NA when blank), ``phone`` (also ``e164`` and ``problem``)
and ``email`` (``address``, the cleaned source address, and ``key_ok``: it has a key; no
``text``, which nothing reads for an address).

Only values that can matter are collected: the two sides of pairs whose stored values differ,
the records batches may carry, and every phone (``problems.csv`` lists the unreadable ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from recon import normalize
from recon.engine.drift import source_column
from recon.engine.keys import series, strings
from recon.engine.sql.pipeline import Pipeline
from recon.engine.sql.steps import record_columns
from recon.fields import FieldMap

KINDS = ("text", "phone", "email")
SCHEMA = pa.schema([("kind", pa.string()), ("value", pa.string()), ("text", pa.string()),
                    ("e164", pa.string()), ("problem", pa.string()),
                    ("address", pa.string()), ("key_ok", pa.bool_())])


def needed_values(p: Pipeline, fields: FieldMap, required: Sequence[str]) -> None:
    """Distinct (kind, value) pairs that later steps look up in ``forms``."""
    p.enqueue_sql(f"""
        SELECT {record_columns('x')} FROM d x JOIN d_bucket b ON b.pos = x.pos
        WHERE b.bucket = 'only' AND COALESCE(x.active, FALSE)""", "d_migrating",
                  materialise=True)
    sources: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for kind in ("text", "email"):  # pairs' phones are among every phone, below
        sources[kind] += [f"""SELECT c.{side}_value AS value
            FROM drift_candidates c WHERE c.comparer = '{kind}'""" for side in ("d", "s")]
    for field in fields.fields:
        column = source_column(field)
        if field.comparer == "phone":  # every phone: problems.csv lists the unreadable ones
            sources["phone"] += [f"SELECT {column} AS value FROM {table}" for table in ("d", "s")]
        elif field.comparer in KINDS:
            sources[field.comparer] += [f"SELECT CAST({column} AS VARCHAR) AS value FROM {table}"
                                        for table in ("d_migrating", "s_creatable")]
    sources["text"] += [f"SELECT CAST({column} AS VARCHAR) AS value FROM s_creatable"
                        for column in required]
    branches = [f"""
        SELECT '{kind}' AS kind, value FROM (
            {(chr(10) + "            UNION ALL ").join(parts)}) {kind}_values
        WHERE value IS NOT NULL GROUP BY value""" for kind, parts in sources.items() if parts]
    p.enqueue_sql("\n        UNION ALL".join(branches), "needed_values", materialise=True)


def forms(needed: pa.Table, region: str | None) -> pa.Table:
    """Each needed value's forms, through ``recon.normalize``, one vectorised call per kind."""
    parts = []
    for kind in KINDS:
        values = strings(series(needed["value"].filter(pc.equal(needed["kind"], kind))))
        column = series(values)
        size = len(values)
        nulls = pa.nulls(size, pa.string())
        text = nulls if kind == "email" else strings(normalize.text(column))  # unread for emails
        out = {"kind": pa.array([kind] * size, pa.string()), "value": values,
               "text": text, "e164": nulls, "problem": nulls,
               "address": nulls, "key_ok": pa.nulls(size, pa.bool_())}
        if kind == "phone" and size:
            out["e164"] = strings(normalize.phone(column, region))
            unread = pc.and_(pc.is_null(out["e164"]), pc.is_valid(out["text"]))
            if pc.any(unread).as_py():  # only a value that does not parse has a problem
                why = strings(normalize.phone_problems(series(values.filter(unread)), region))
                out["problem"] = pc.replace_with_mask(nulls, unread, why)
        if kind == "email" and size:
            out["address"] = strings(normalize.email_address(column))
            out["key_ok"] = pc.is_valid(strings(normalize.email_key(column)[0]))
        parts.append(pa.table(out, schema=SCHEMA))
    return pa.concat_tables(parts)


def problems(p: Pipeline, fields: FieldMap) -> None:
    """Phones that cannot be read, per record and phone field (``problems.csv``)."""
    parts = []
    for rank, field in enumerate(fields.fields):
        if field.comparer != "phone":
            continue
        for side_rank, (side, name) in enumerate((("d", "dynamics"), ("s", "strivacity"))):
            parts.append(f"""
        SELECT '{name}' AS side, {side_rank} AS side_rank, x.record_id, '{field.name}' AS field,
               {rank} AS field_rank, x.{field.name} AS value, f.problem AS reason, x.pos
        FROM {side} x JOIN forms f ON f.kind = 'phone' AND f.value = x.{field.name}
        WHERE f.problem IS NOT NULL""")
    if not parts:
        parts.append("""
        SELECT CAST(NULL AS VARCHAR) AS side, 0 AS side_rank, CAST(NULL AS VARCHAR) AS record_id,
               CAST(NULL AS VARCHAR) AS field, 0 AS field_rank, CAST(NULL AS VARCHAR) AS value,
               CAST(NULL AS VARCHAR) AS reason, 0 AS pos
        FROM field_map WHERE FALSE""")
    p.enqueue_sql("\n        UNION ALL".join(parts), "problems")
