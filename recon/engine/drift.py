"""Drift: per matched pair and mapped field, the values that differ and what to do about it.

Comparers (DESIGN §4): ``email`` compares email keys; ``text`` compares after
``recon.normalize.text``; ``phone`` compares the canonical (already E.164) values; ``bool``
compares flags. Both sides blank is no drift. Actions: ``update_dynamics`` (Strivacity wins),
``update_strivacity`` (Dynamics wins and the field has a writable Strivacity attribute), or
``report`` (winner ``report``, ``newest`` with equal or unknown times, a blank on the winning
side, which never overwrites a filled value, or a link pair one of whose records is in a
duplicate group: duplicates are never batched, even when a link pairs one of them).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon import normalize
from recon.engine.attributes import attribute_path
from recon.engine.keys import series, take, times
from recon.engine.matches import Pairs
from recon.fields import Field, FieldMap
from recon.parallel import run_all

COLUMNS = ("contactid", "strivacity_id", "email_key", "field", "dynamics_value",
           "strivacity_value", "action")
ACTIONS = ("report", "update_dynamics", "update_strivacity")
_REPORT, _UPDATE_DYNAMICS, _UPDATE_STRIVACITY = range(3)


def compared_column(field: Field) -> str:
    """The canonical column a field is compared on (emails compare by key)."""
    return "email_key" if field.comparer == "email" else field.name


def _differs(dv: pa.Array, sv: pa.Array, comparer: str) -> np.ndarray:
    """True where the two sides' values differ; both blank counts as equal."""
    equal = pc.fill_null(pc.equal(dv, sv), False)
    same = pc.or_(equal, pc.and_(pc.is_null(dv), pc.is_null(sv)))
    differ = ~same.to_numpy(zero_copy_only=False)
    if comparer == "text":  # canonical text is normalised already; recheck only the differences
        both = differ & ~pc.is_null(dv).to_numpy(zero_copy_only=False) \
            & ~pc.is_null(sv).to_numpy(zero_copy_only=False)
        where = pa.array(np.flatnonzero(both))
        left = normalize.text(series(dv.take(where)))
        right = normalize.text(series(sv.take(where)))
        differ[where.to_numpy()] = (left != right).to_numpy(dtype=bool)
    return differ


def _actions(field: Field, d_blank: np.ndarray, s_blank: np.ndarray,
             d_newer: np.ndarray, s_newer: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Action codes for the differing values of one field; ``held`` pairs are only reported."""
    size = len(d_blank)
    s_wins = {"strivacity": np.ones(size, bool), "newest": s_newer}.get(field.winner)
    d_wins = {"dynamics": np.ones(size, bool), "newest": d_newer}.get(field.winner)
    codes = np.full(size, _REPORT, np.int8)
    if s_wins is not None:
        codes[s_wins & ~s_blank] = _UPDATE_DYNAMICS
    if d_wins is not None and attribute_path(field) is not None:
        codes[d_wins & ~d_blank] = _UPDATE_STRIVACITY
    codes[held] = _REPORT
    return codes


def _field_drift(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairs: Pairs, field: Field,
                 newer: tuple[np.ndarray, np.ndarray]) -> pa.Table:
    """Drift rows of one field: pair index, both values as text, action."""
    column = compared_column(field)
    dv = take(dynamics[column], pairs.dynamics)
    sv = take(strivacity[column], pairs.strivacity)
    rows = np.flatnonzero(_differs(dv, sv, field.comparer))
    where = pa.array(rows)
    dv, sv = dv.take(where), sv.take(where)
    codes = _actions(field, pc.is_null(dv).to_numpy(zero_copy_only=False),
                     pc.is_null(sv).to_numpy(zero_copy_only=False),
                     newer[0][rows], newer[1][rows], pairs.in_duplicate_group[rows])
    return pa.table({"pair": rows, "field": pa.array([field.name] * len(rows), pa.string()),
                     "dynamics_value": pc.cast(dv, pa.string()),
                     "strivacity_value": pc.cast(sv, pa.string()),
                     "action": pc.take(pa.array(ACTIONS), pa.array(codes))})


def drift(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairs: Pairs,
          fields: FieldMap) -> tuple[pd.DataFrame, np.ndarray]:
    """Drift rows sorted by contact id then field-map order, and each row's pair index."""
    d_time = times(dynamics["updated_at"])[pairs.dynamics]
    s_time = times(strivacity["updated_at"])[pairs.strivacity]
    newer = (d_time > s_time, s_time > d_time)  # NaT compares False: neither is newer
    tasks = {f.name: partial(_field_drift, dynamics, strivacity, pairs, f, newer)
             for f in fields.fields}
    parts = list(run_all(tasks).values())
    table = pa.concat_tables(parts)
    pair = table["pair"].to_numpy()
    rank = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    order = np.lexsort((rank, pairs.rank[pair]))
    table, pair = table.take(pa.array(order)), pair[order]
    rows = pairs.rank[pair]
    matches = pairs.frame
    out = {name: take(matches[name], rows) for name in ("contactid", "strivacity_id", "email_key")}
    out.update({name: table[name] for name in COLUMNS[3:]})
    return pd.DataFrame({name: series(out[name]) for name in COLUMNS}), pair
