"""Batch decisions as flat frames, one row per batch record (DESIGN §6).

The frames are what a notebook shows; ``recon.engine.lines`` turns them into the JSON lines
the systems take. Only ``only`` and ``matched`` records are batched: duplicates and review
records never reach these frames. Values are the source's own (``recon.engine.values``),
never keys. A contact to create gets its ``contactid`` here, fixed by the account it comes
from, and the same run's ``update_strivacity`` writes that id back as the account's link, so
applying both batches leaves nothing to do on the next run.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.attributes import attribute_path
from recon.engine.drift import source_column
from recon.engine.keys import (
    DYNAMICS,
    STRIVACITY,
    distinct_sorted,
    series,
    sort_indices,
    strings,
    take,
)
from recon.engine.matches import Pairs
from recon.engine.pairing import ONLY, Pairing
from recon.engine.values import written, written_column
from recon.fields import FieldMap
from recon.normalize import STRING
from recon.parallel import run_all

LANGUAGE = "en-US"
EMAIL_ID, PHONE_ID = "identities.email.id", "identities.phone.id"
UPDATE_DYNAMICS_COLUMNS = ("contactid", "etag", "column", "new", "old")
UPDATE_STRIVACITY_COLUMNS = ("accountId", "identityStore", "attribute", "value")
#: Namespace of the ids of contacts created from accounts, fixed forever: a later run proposing
#: the same contact must give it the same id.
CREATED_CONTACT_NAMESPACE = uuid.UUID("acc1f690-28a5-4fb2-b601-38d14e9ba346")
_NAMESPACE_BYTES = CREATED_CONTACT_NAMESPACE.bytes


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


def _only_active(frame: pd.DataFrame, bucket: np.ndarray) -> np.ndarray:
    """Positions of the side's active ``only`` records, sorted by record id."""
    active = frame["active"].fillna(False).to_numpy(dtype=bool)
    chosen = np.flatnonzero((bucket == ONLY) & active)
    return chosen[sort_indices(strings(frame["record_id"]).take(pa.array(chosen)))]


def _rows(frame: pd.DataFrame, positions: np.ndarray, fields: FieldMap) -> pd.DataFrame:
    """The source columns batches read, at ``positions``."""
    columns = dict.fromkeys(["record_id", *map(source_column, fields.fields)])
    return frame[list(columns)].iloc[positions].reset_index(drop=True)


def created_contact_id(store: str, account_id: str) -> str:
    """The contactid of the contact created from an account: the same for the same account.

    ``uuid.uuid5(CREATED_CONTACT_NAMESPACE, f"{len(store)}:{store}:{account_id}")`` (the length
    keeps store and id apart whatever they hold), computed directly: it runs once per account.
    """
    name = f"{len(store)}:{store}:{account_id}".encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Created:
    """The accounts ``create_in_dynamics`` creates contacts for, and those contacts' ids."""

    positions: np.ndarray
    contactids: pa.Array

    @classmethod
    def of(cls, strivacity: pd.DataFrame, pairing: Pairing) -> Created:
        positions = _only_active(strivacity, pairing.strivacity.bucket)
        stores = take(strivacity["store"], positions).to_pylist()
        ids = take(strivacity["record_id"], positions).to_pylist()
        contactids = [created_contact_id(store, account)
                      for store, account in zip(stores, ids, strict=True)]
        return cls(positions, pa.array(contactids, pa.string()))


def migrate_to_strivacity(dynamics: pd.DataFrame, pairing: Pairing,
                          fields: FieldMap) -> pd.DataFrame:
    """Active Dynamics-only contacts as flat rows with Strivacity paths for column names."""
    rows = _rows(dynamics, _only_active(dynamics, pairing.dynamics.bucket), fields)
    region = fields.phone_region
    out = {"language": pd.Series([LANGUAGE] * len(rows), dtype=STRING),
           EMAIL_ID: written_column(rows, fields["email"], STRIVACITY, region),
           PHONE_ID: written_column(rows, fields["phone"], STRIVACITY, region)}
    for field in fields.fields:
        path = attribute_path(field)
        if path is not None and field.comparer != "bool":
            out[path] = written_column(rows, field, STRIVACITY, region)
    out[fields.link_attribute] = rows["record_id"]
    return pd.DataFrame(out).astype(STRING)


def create_in_dynamics(strivacity: pd.DataFrame, created: Created,
                       fields: FieldMap) -> pd.DataFrame:
    """Enabled Strivacity-only accounts as contact columns, led by the contactid the run fixes;
    ``strivacity_id`` is kept for tracing and is not part of the contact body."""
    rows = _rows(strivacity, created.positions, fields)
    out = {"strivacity_id": rows["record_id"], "contactid": series(created.contactids)}
    for field in fields.fields:
        if field.comparer != "bool":
            out[field.dynamics] = written_column(rows, field, DYNAMICS, fields.phone_region)
    return pd.DataFrame(out).astype(STRING)


def _written_by_field(rows: pd.DataFrame, column: str, fields: FieldMap,
                      target: str) -> pa.Array:
    """Each drift row's ``column`` value as written to ``target``, by its row's field."""
    given = strings(rows[column])
    names = rows["field"].to_numpy(dtype=object)
    out = given
    for field in fields.fields:
        mask = names == field.name
        if mask.any():
            mine = written(given.filter(pa.array(mask)), field, target, fields.phone_region)
            out = pc.replace_with_mask(out, pa.array(mask), mine)
    return out


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
        "new": series(_written_by_field(rows, "strivacity_value", fields, DYNAMICS)),
        "old": rows["dynamics_value"],
    })


def _repeat(value: str, size: int) -> pa.Array:
    """One string ``size`` times, without a Python list of that size."""
    return pa.array([value], pa.string()).take(pa.array(np.zeros(size, np.int64)))


def update_strivacity(strivacity: pd.DataFrame, pairs: Pairs, drift: pd.DataFrame,
                      drift_pair: np.ndarray, created: Created, fields: FieldMap) -> pd.DataFrame:
    """Dynamics-winning drift, the missing link attribute of email pairs and the link to the
    contact created from each Strivacity-only account, one row each (accountId, identityStore,
    attribute path, value), sorted by account, then field-map order with the link last."""
    chosen = (drift["action"] == "update_strivacity").to_numpy(dtype=bool)
    rows = drift[chosen].reset_index(drop=True)
    paths = {f.name: attribute_path(f) for f in fields.fields}
    no_link = strivacity["link"].isna().to_numpy()[pairs.strivacity]
    unlinked = np.flatnonzero(~pairs.by_link & no_link)
    position = np.concatenate([pairs.strivacity[drift_pair[chosen]], pairs.strivacity[unlinked],
                               created.positions])
    # Drift rows come in field-map order per pair and link rows after them: a stable sort
    # by account keeps that order within each account.
    order = sort_indices(take(strivacity["record_id"], position))
    attribute = pa.concat_arrays([strings(rows["field"].map(paths).astype(STRING)),
                                  _repeat(fields.link_attribute,
                                          len(unlinked) + len(created.positions))])
    value = pa.concat_arrays([_written_by_field(rows, "dynamics_value", fields, STRIVACITY),
                              take(pairs.frame["contactid"], pairs.rank[unlinked]),
                              created.contactids])
    table = {"accountId": take(strivacity["record_id"], position[order]),
             "identityStore": take(strivacity["store"], position[order]),
             "attribute": attribute.take(pa.array(order)),
             "value": value.take(pa.array(order))}
    return pd.DataFrame({name: series(table[name]) for name in UPDATE_STRIVACITY_COLUMNS})


def decide(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairing: Pairing, pairs: Pairs,
           drift: pd.DataFrame, drift_pair: np.ndarray, fields: FieldMap) -> Batches:
    """All four batches, built side by side (they only read their inputs)."""
    created = Created.of(strivacity, pairing)
    return Batches(**run_all({
        "migrate_to_strivacity": partial(migrate_to_strivacity, dynamics, pairing, fields),
        "create_in_dynamics": partial(create_in_dynamics, strivacity, created, fields),
        "update_dynamics": partial(update_dynamics, dynamics, pairs, drift, drift_pair, fields),
        "update_strivacity": partial(update_strivacity, strivacity, pairs, drift, drift_pair,
                                     created, fields)}))
