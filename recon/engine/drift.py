"""Drift: per matched pair and mapped field, the values that differ and what to do about it.

Comparers (DESIGN §4): ``email`` compares email keys; ``text`` compares after
``recon.normalize.text``; ``phone`` compares E.164 (read with the field map's ``phone_region``);
``bool`` compares flags. Both sides blank is no drift. ``dynamics_value`` and
``strivacity_value`` are what each side holds, as it holds it (``recon.engine.values``).

Actions: ``update_dynamics`` (Strivacity wins), ``update_strivacity`` (Dynamics wins), or
``report``, never batched, with the first ``reason`` that applies (``REASONS``):
``duplicate_group`` (a record of the pair shares its email with another record of its side),
``winner_report``, ``no_newer_side`` (winner ``newest``, equal or unknown times),
``blank_winner`` (a blank never overwrites a filled value), ``unparseable_phone`` /
``invalid_email`` (the winning value cannot be written), ``not_writable`` (Dynamics wins a
field without a writable Strivacity attribute) and ``email_in_use`` (the winning address is
already held by another record of the target side: writing it would make a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon import normalize
from recon.engine import values
from recon.engine.attributes import attribute_path
from recon.engine.keys import KeyCodes, series, strings, take, times
from recon.engine.matches import Pairs
from recon.fields import Field, FieldMap
from recon.parallel import run_all
from recon.runfolder import DRIFT_ACTIONS, DRIFT_REASONS, columns

COLUMNS = columns("drift")
ACTIONS, REASONS = DRIFT_ACTIONS, DRIFT_REASONS  # codes: positions in these (recon.runfolder)
_REPORT, _UPDATE_DYNAMICS, _UPDATE_STRIVACITY = (
    ACTIONS.index(a) for a in ("report", "update_dynamics", "update_strivacity"))
_R = {name: code for code, name in enumerate(REASONS)}


def source_column(field: Field) -> str:
    """The canonical column holding a field's source values (emails: the raw address)."""
    return "email" if field.comparer == "email" else field.name


def compared_column(field: Field) -> str:
    """The canonical column a field is paired and compared on (emails compare by key)."""
    return "email_key" if field.comparer == "email" else field.name


@dataclass(frozen=True)
class Holders:
    """Who already holds each email key, for the ``email_in_use`` check: counts per key code
    of contacts (primary and, once per contact, secondary addresses) and of accounts."""

    keys: KeyCodes
    secondary: np.ndarray
    contact_secondary: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, dynamics: pd.DataFrame, keys: KeyCodes) -> Holders:
        codes = [pc.fill_null(pc.index_in(strings(dynamics[c]), value_set=keys.dictionary), -1)
                 .to_numpy(zero_copy_only=False).astype(np.int64)
                 for c in ("email2_key", "email3_key")]
        second, third = codes[0], np.where(codes[1] == codes[0], -1, codes[1])
        size = len(keys.dictionary) + 1
        counts = (np.bincount(second[second >= 0], minlength=size)
                  + np.bincount(third[third >= 0], minlength=size))
        return cls(keys, counts, (second, third))

    def held_by_other_contact(self, code: np.ndarray, contact: np.ndarray) -> np.ndarray:
        """True where a contact other than ``contact`` holds the key ``code``."""
        second, third = self.contact_secondary
        own = (second[contact] == code).astype(np.int64) + (third[contact] == code)
        others = self.keys.count_dynamics[code] + self.secondary[code] - own
        return (code >= 0) & (others > 0)

    def held_by_other_account(self, code: np.ndarray) -> np.ndarray:
        """True where an account holds the key ``code`` (the pair's own account does not: its
        key differs, which is why there is drift)."""
        return (code >= 0) & (self.keys.count_strivacity[code] > 0)


def _differs(dv: pa.Array, sv: pa.Array, comparer: str, region: str | None) -> np.ndarray:
    """True where the two sides' values differ; both blank counts as equal."""
    equal = pc.fill_null(pc.equal(dv, sv), False)
    same = pc.or_(equal, pc.and_(pc.is_null(dv), pc.is_null(sv)))
    differ = ~same.to_numpy(zero_copy_only=False)
    if comparer in ("text", "phone"):  # equal source values are equal: compare only the rest
        where = pa.array(np.flatnonzero(differ))
        left = values.compared(dv.take(where), comparer, region)
        right = values.compared(sv.take(where), comparer, region)
        again = pc.or_(pc.fill_null(pc.equal(left, right), False),
                       pc.and_(pc.is_null(left), pc.is_null(right)))
        differ[where.to_numpy()] = ~again.to_numpy(zero_copy_only=False)
    return differ


@dataclass(frozen=True)
class _Sides:
    """Per drift row of one field: blank, unusable and newer flags of each side."""

    d_blank: np.ndarray
    s_blank: np.ndarray
    d_bad: np.ndarray
    s_bad: np.ndarray
    d_newer: np.ndarray
    s_newer: np.ndarray


def _decide(field: Field, sides: _Sides, held: np.ndarray, in_use: tuple[np.ndarray, np.ndarray]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Action and reason codes (reason -1: none) for the differing values of one field.

    ``in_use`` is, per row, whether the Strivacity value is held by another contact and
    whether the Dynamics value is held by another account.
    """
    size = len(held)
    s_wins = {"strivacity": np.ones(size, bool), "newest": sides.s_newer}.get(
        field.winner, np.zeros(size, bool))
    d_wins = {"dynamics": np.ones(size, bool), "newest": sides.d_newer}.get(
        field.winner, np.zeros(size, bool))
    reason = np.full(size, -1, np.int8)

    def mark(mask: np.ndarray, name: str) -> None:
        reason[(reason < 0) & mask] = _R[name]

    mark(held, "duplicate_group")
    mark(np.full(size, field.winner == "report"), "winner_report")
    mark(~s_wins & ~d_wins, "no_newer_side")
    mark((s_wins & sides.s_blank) | (d_wins & sides.d_blank), "blank_winner")
    bad = "invalid_email" if field.comparer == "email" else "unparseable_phone"
    mark((s_wins & sides.s_bad) | (d_wins & sides.d_bad), bad)
    mark(d_wins & np.full(size, attribute_path(field) is None), "not_writable")
    mark((s_wins & in_use[0]) | (d_wins & in_use[1]), "email_in_use")
    codes = np.where(s_wins, _UPDATE_DYNAMICS, _UPDATE_STRIVACITY).astype(np.int8)
    codes[reason >= 0] = _REPORT
    return codes, reason


def _compared_pair(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairs: Pairs,
                   field: Field) -> tuple[pa.Array, pa.Array]:
    column = compared_column(field)
    return take(dynamics[column], pairs.dynamics), take(strivacity[column], pairs.strivacity)


def _in_use(field: Field, holders: Holders, pairs: Pairs,
            rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if field.comparer != "email":
        return np.zeros(len(rows), bool), np.zeros(len(rows), bool)
    contact, account = pairs.dynamics[rows], pairs.strivacity[rows]
    keys = holders.keys
    return (holders.held_by_other_contact(keys.strivacity[account], contact),
            holders.held_by_other_account(keys.dynamics[contact]))


def _no_address(raw: pa.Array) -> np.ndarray:
    """True where a raw email holds no address at all (``email_status`` ``missing``)."""
    return normalize.email_address(series(raw)).isna().to_numpy(dtype=bool)


def _field_drift(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairs: Pairs, field: Field,
                 newer: tuple[np.ndarray, np.ndarray], holders: Holders,
                 region: str | None) -> pa.Table:
    """Drift rows of one field: pair index, both source values as text, action, reason."""
    dc, sc = _compared_pair(dynamics, strivacity, pairs, field)
    rows = np.flatnonzero(_differs(dc, sc, field.comparer, region))
    where = pa.array(rows)
    column = source_column(field)
    dv = take(dynamics[column], pairs.dynamics[rows])
    sv = take(strivacity[column], pairs.strivacity[rows])
    if field.comparer in ("email", "bool"):
        d_blank = pc.is_null(dc.take(where)).to_numpy(zero_copy_only=False)
        s_blank = pc.is_null(sc.take(where)).to_numpy(zero_copy_only=False)
    else:
        d_blank, s_blank = values.blank(dv), values.blank(sv)
    if field.comparer == "email":  # an invalid address has no key: unusable, not blank;
        # one with nothing left once unwrapped (``<>``, ``mailto:``) is blank, as in review
        d_bad, s_bad = d_blank & ~_no_address(dv), s_blank & ~_no_address(sv)
        d_blank, s_blank = d_blank & ~d_bad, s_blank & ~s_bad
    else:
        d_bad = values.unusable(dv, field.comparer, region)
        s_bad = values.unusable(sv, field.comparer, region)
    sides = _Sides(d_blank, s_blank, d_bad, s_bad, newer[0][rows], newer[1][rows])
    codes, reasons = _decide(field, sides, pairs.in_duplicate_group[rows],
                             _in_use(field, holders, pairs, rows))
    return pa.table({"pair": rows, "field": pa.array([field.name] * len(rows), pa.string()),
                     "dynamics_value": pc.cast(dv, pa.string()),
                     "strivacity_value": pc.cast(sv, pa.string()),
                     "action": pc.take(pa.array(ACTIONS), pa.array(codes)),
                     "reason": pc.take(pa.array(REASONS),
                                       pa.array(reasons, mask=reasons < 0))})


def drift(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairs: Pairs, fields: FieldMap,
          keys: KeyCodes) -> tuple[pd.DataFrame, np.ndarray]:
    """Drift rows sorted by contact id then field-map order, and each row's pair index."""
    d_time = times(dynamics["updated_at"])[pairs.dynamics]
    s_time = times(strivacity["updated_at"])[pairs.strivacity]
    newer = (d_time > s_time, s_time > d_time)  # NaT compares False: neither is newer
    holders = Holders.of(dynamics, keys)
    tasks = {f.name: partial(_field_drift, dynamics, strivacity, pairs, f, newer, holders,
                             fields.phone_region) for f in fields.fields}
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
