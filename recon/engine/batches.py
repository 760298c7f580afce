"""Batch decisions as flat frames, one row per batch record (DESIGN §6).

The frames are what a notebook shows; ``recon.engine.lines`` turns them into the JSON lines
the systems take. Only ``only`` and ``matched`` records are batched: duplicates and review
records never reach these frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.attributes import attribute_path
from recon.engine.drift import compared_column
from recon.engine.keys import distinct_sorted, series, sort_indices, strings, take
from recon.engine.matches import Pairs
from recon.engine.pairing import ONLY, Pairing
from recon.fields import FieldMap
from recon.normalize import STRING
from recon.parallel import run_all

LANGUAGE = "en-US"
DEFAULT_STORE = "default"
STORE_COLUMN = "raw_store"
EMAIL_ID, PHONE_ID = "identities.email.id", "identities.phone.id"
UPDATE_DYNAMICS_COLUMNS = ("contactid", "etag", "column", "new", "old")
UPDATE_STRIVACITY_COLUMNS = ("accountId", "identityStore", "attribute", "value")
_E164 = r"^\+[1-9][0-9]{6,14}$"


@dataclass(frozen=True)
class Batches:
    """The four batches as frames (see ``recon.engine.lines`` for their JSON shape)."""

    migrate_to_strivacity: pd.DataFrame
    create_in_dynamics: pd.DataFrame
    update_dynamics: pd.DataFrame
    update_strivacity: pd.DataFrame

    def line_counts(self) -> dict[str, int]:
        """Lines each batch file will have: updates are one line per contact / account."""
        return {"migrate_to_strivacity": len(self.migrate_to_strivacity),
                "create_in_dynamics": len(self.create_in_dynamics),
                "update_dynamics": distinct_sorted(self.update_dynamics["contactid"]),
                "update_strivacity": distinct_sorted(self.update_strivacity["accountId"])}


def _only_active(frame: pd.DataFrame, bucket: np.ndarray, fields: FieldMap) -> pd.DataFrame:
    """The side's active ``only`` records (the columns batches use), sorted by record id."""
    active = frame["active"].fillna(False).to_numpy(dtype=bool)
    chosen = np.flatnonzero((bucket == ONLY) & active)
    order = chosen[sort_indices(strings(frame["record_id"]).take(pa.array(chosen)))]
    columns = dict.fromkeys(["record_id", "phone", *map(compared_column, fields.fields)])
    return frame[list(columns)].iloc[order].reset_index(drop=True)


def migrate_to_strivacity(dynamics: pd.DataFrame, pairing: Pairing,
                          fields: FieldMap) -> pd.DataFrame:
    """Active Dynamics-only contacts as flat rows with Strivacity paths for column names."""
    rows = _only_active(dynamics, pairing.dynamics.bucket, fields)
    phone = strings(rows["phone"])
    e164 = pc.fill_null(pc.match_substring_regex(phone, _E164), False)
    out = {"language": pd.Series([LANGUAGE] * len(rows), dtype=STRING),
           EMAIL_ID: rows["email_key"],
           PHONE_ID: series(pc.if_else(e164, phone, pa.scalar(None, pa.string())))}
    for field in fields.fields:
        path = attribute_path(field)
        if path is not None and field.comparer != "bool":
            out[path] = rows[compared_column(field)]
    out[fields.link_attribute] = rows["record_id"]
    return pd.DataFrame(out).astype(STRING)


def create_in_dynamics(strivacity: pd.DataFrame, pairing: Pairing,
                       fields: FieldMap) -> pd.DataFrame:
    """Enabled Strivacity-only accounts as contact columns; ``strivacity_id`` is kept for
    tracing and is not part of the contact body."""
    rows = _only_active(strivacity, pairing.strivacity.bucket, fields)
    out = {"strivacity_id": rows["record_id"]}
    for field in fields.fields:
        if field.comparer != "bool":
            out[field.dynamics] = rows[compared_column(field)]
    return pd.DataFrame(out).astype(STRING)


def update_dynamics(dynamics: pd.DataFrame, pairs: Pairs, drift: pd.DataFrame,
                    drift_pair: np.ndarray, fields: FieldMap) -> pd.DataFrame:
    """Strivacity-winning drift as (contactid, etag, Dataverse column, new, old) rows."""
    chosen = (drift["action"] == "update_dynamics").to_numpy(dtype=bool)
    rows = drift[chosen].reset_index(drop=True)
    etags = strings(dynamics["etag"]).take(pa.array(pairs.dynamics[drift_pair[chosen]]))
    columns = {f.name: f.dynamics for f in fields.fields}
    return pd.DataFrame({
        "contactid": rows["contactid"], "etag": series(etags),
        "column": rows["field"].map(columns).astype(STRING),
        "new": rows["strivacity_value"], "old": rows["dynamics_value"],
    })


def _repeat(value: str, size: int) -> pa.Array:
    """One string ``size`` times, without a Python list of that size."""
    return pa.array([value], pa.string()).take(pa.array(np.zeros(size, np.int64)))


def _stores(strivacity: pd.DataFrame, positions: np.ndarray) -> pa.Array:
    if STORE_COLUMN not in strivacity:
        return _repeat(DEFAULT_STORE, len(positions))
    stores = strings(strivacity[STORE_COLUMN]).take(pa.array(positions))
    return pc.fill_null(stores, DEFAULT_STORE)


def update_strivacity(strivacity: pd.DataFrame, pairs: Pairs, drift: pd.DataFrame,
                      drift_pair: np.ndarray, fields: FieldMap) -> pd.DataFrame:
    """Dynamics-winning drift plus the missing link attribute of email pairs, one row each
    (accountId, identityStore, attribute path, value), sorted by account, then field-map
    order with the link last."""
    chosen = (drift["action"] == "update_strivacity").to_numpy(dtype=bool)
    rows = drift[chosen]
    paths = {f.name: attribute_path(f) for f in fields.fields}
    no_link = strivacity["link"].isna().to_numpy()[pairs.strivacity]
    unlinked = np.flatnonzero(~pairs.by_link & no_link)
    link_rows = pairs.rank[unlinked]
    position = np.concatenate([pairs.strivacity[drift_pair[chosen]], pairs.strivacity[unlinked]])
    # Drift rows come in field-map order per pair and link rows after them: a stable sort
    # by account keeps that order within each account.
    order = sort_indices(take(strivacity["record_id"], position))
    attribute = pa.concat_arrays([strings(rows["field"].map(paths).astype(STRING)),
                                  _repeat(fields.link_attribute, len(unlinked))])
    value = pa.concat_arrays([strings(rows["dynamics_value"]),
                              take(pairs.frame["contactid"], link_rows)])
    table = {"accountId": take(strivacity["record_id"], position[order]),
             "identityStore": _stores(strivacity, position[order]),
             "attribute": attribute.take(pa.array(order)),
             "value": value.take(pa.array(order))}
    return pd.DataFrame({name: series(table[name]) for name in UPDATE_STRIVACITY_COLUMNS})


def decide(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairing: Pairing, pairs: Pairs,
           drift: pd.DataFrame, drift_pair: np.ndarray, fields: FieldMap) -> Batches:
    """All four batches, built side by side (they only read their inputs)."""
    return Batches(**run_all({
        "migrate_to_strivacity": partial(migrate_to_strivacity, dynamics, pairing, fields),
        "create_in_dynamics": partial(create_in_dynamics, strivacity, pairing, fields),
        "update_dynamics": partial(update_dynamics, dynamics, pairs, drift, drift_pair, fields),
        "update_strivacity": partial(update_strivacity, strivacity, pairs, drift, drift_pair,
                                     fields)}))
