"""Source values, how they compare, and how they are written to the other system.

The canonical frames hold each source's own values. Comparing goes through ``recon.normalize``
(text: NFC, trimmed, collapsed; phone: E.164 read with the field map's ``phone_region``; email:
the key); writing does not, except where the target needs a form of its own:

- email: the address as ``normalize.email_address`` gives it (trimmed, unwrapped, NFC; case and
  Unicode domain kept), never the key;
- phone into Strivacity: E.164, which its phone identifier and attributes take;
- everything else: the value exactly as its source holds it.

A value is *blank* when its compared form is NA; a blank is never written. A phone that
cannot be parsed, or an email that is not valid, is *unusable*: it is never written either,
and ``problems`` lists the phones (run folder ``problems.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon import normalize
from recon.engine.keys import DYNAMICS, STRIVACITY, series, sort_indices, strings
from recon.fields import Field, FieldMap
from recon.normalize import STRING
from recon.runfolder import columns

PROBLEM_COLUMNS = columns("problems")
_NULL = pa.scalar(None, pa.string())


def compared(values: pa.Array, comparer: str, region: str | None) -> pa.Array:
    """The form ``comparer`` compares (text or phone; emails compare by key elsewhere).

    A phone that cannot be parsed compares as its normalised text, so two spellings of one
    unreadable value are equal and an unreadable value never equals a readable one.
    """
    text = strings(normalize.text(series(values)))
    if comparer != "phone":
        return text
    return pc.coalesce(strings(normalize.phone(series(values), region)), text)


def blank(values: pa.Array) -> np.ndarray:
    """True where a value is missing, empty or only whitespace."""
    return pc.is_null(strings(normalize.text(series(values)))).to_numpy(zero_copy_only=False)


def unusable(values: pa.Array, comparer: str, region: str | None) -> np.ndarray:
    """True where a present value cannot be written: an unparseable phone, an invalid email."""
    if comparer == "phone":
        parsed = strings(normalize.phone(series(values), region))
    elif comparer == "email":
        parsed = strings(normalize.email_key(series(values))[0])
    else:
        return np.zeros(len(values), bool)
    return pc.is_null(parsed).to_numpy(zero_copy_only=False) & ~blank(values)


def written(values: pa.Array, field: Field, target: str, region: str | None) -> pa.Array:
    """``values`` as they are written to ``target`` (see the module docstring); blank ones and
    unusable ones become NA."""
    if field.comparer == "email":
        out = strings(normalize.email_address(series(values)))
        valid = pc.is_valid(strings(normalize.email_key(series(values))[0]))
        return pc.if_else(valid, out, _NULL)
    if field.comparer == "phone":
        e164 = strings(normalize.phone(series(values), region))
        return e164 if target == STRIVACITY else pc.if_else(pc.is_valid(e164), values, _NULL)
    if field.comparer == "bool":
        return values
    return pc.if_else(pa.array(blank(values)), _NULL, values)


def written_column(frame: pd.DataFrame, field: Field, target: str,
                   region: str | None) -> pd.Series:
    """A canonical column of ``frame`` as written to ``target``."""
    column = "email" if field.comparer == "email" else field.name
    return series(written(strings(frame[column]), field, target, region)).astype(STRING)


def problems(dynamics: pd.DataFrame, strivacity: pd.DataFrame, fields: FieldMap) -> pd.DataFrame:
    """Every phone (of a ``phone`` field) on either side that cannot be parsed, with why:
    such a value is never written, so the run folder says which record, field and value.
    Sorted by side, record id, then field-map order."""
    phones = [f.name for f in fields.fields if f.comparer == "phone"]
    parts = [_side_problems(side, frame, phones, fields.phone_region)
             for side, frame in ((DYNAMICS, dynamics), (STRIVACITY, strivacity))]
    table = pa.concat_tables(parts) if parts else None
    return pd.DataFrame({c: series(table[c]) if table is not None else pd.Series([], dtype=STRING)
                         for c in PROBLEM_COLUMNS})


def _side_problems(side: str, frame: pd.DataFrame, phones: list[str],
                   region: str | None) -> pa.Table:
    ids, names, found, reasons = [], [], [], []
    for name in phones:
        reason = strings(normalize.phone_problems(frame[name], region))
        bad = pc.is_valid(reason)
        ids.append(strings(frame["record_id"]).filter(bad))
        found.append(strings(frame[name]).filter(bad))
        reasons.append(reason.filter(bad))
        names.append(pa.array([name] * len(reasons[-1]), pa.string()))
    record = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
    order = pa.array(sort_indices(record))  # stable: a record's fields stay in map order
    columns = {"record_id": record, "field": _concat(names), "value": _concat(found),
               "reason": _concat(reasons)}
    return pa.table({"side": pa.array([side] * len(record), pa.string()),
                     **{k: v.take(order) for k, v in columns.items()}})


def _concat(arrays: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(arrays) if arrays else pa.array([], pa.string())


def problem_counts(problems: pd.DataFrame, fields: FieldMap) -> dict[str, int]:
    """summary.json's ``problems``: rows of problems.csv per phone field, zero or not."""
    counts = problems["field"].value_counts()
    return {f.name: int(counts.get(f.name, 0)) for f in fields.fields if f.comparer == "phone"}
