"""``reconcile()`` on DuckDB: canonical frames in, the same ``Reconciliation`` as
``recon.engine.reconcile`` out, computed by the plan of named SQL steps.

The plan runs in two parts around one Python step: the first pairs the records and collects the
values that need normalising; Python normalises each distinct one (``forms``) and fixes the ids
of contacts to create (``created_ids``); the second part decides review, drift and batches.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from recon.engine import batches as engine_batches
from recon.engine.attributes import attribute_path
from recon.engine.drift import COLUMNS as DRIFT_COLUMNS
from recon.engine.keys import DYNAMICS, STRIVACITY, strings, times
from recon.engine.result import Reconciliation
from recon.engine.run import _check
from recon.engine.sql import batches, drift, forms, frames, steps
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.pipeline import Engine, Pipeline
from recon.fields import (
    DEFAULT_FIELDS,
    DYNAMICS_COLUMNS,
    DYNAMICS_CREATE_REQUIRED,
    STRIVACITY_COLUMNS,
    FieldMap,
)

#: Canonical columns the plan does not read.
_UNREAD = ("created_at", "updated_at", "email_verified")


def input_table(frame: pd.DataFrame, columns: tuple[str, ...]) -> pa.Table:
    """A canonical frame as the plan reads it: its columns, ``pos`` and ``updated_ns``."""
    data: dict[str, pa.Array | pa.ChunkedArray] = {
        "pos": pa.array(np.arange(len(frame), dtype=np.int64))}
    for name in columns:
        if name in _UNREAD:
            continue
        values = frame[name]
        if name == "active":
            data[name] = pa.array(values.astype("boolean").array, type=pa.bool_())
        else:  # Arrow-backed columns are passed as they are, chunks and all: no copy
            data[name] = strings(values)
    stamps = times(frame["updated_at"])
    data["updated_ns"] = pa.array(stamps.view(np.int64), mask=np.isnat(stamps))
    return pa.table(data)


def field_table(fields: FieldMap) -> pa.Table:
    """The field map as a table the drift steps join: comparer, winner, target columns."""
    return pa.table({
        "field": [f.name for f in fields.fields],
        "field_rank": list(range(len(fields.fields))),
        "comparer": [f.comparer for f in fields.fields],
        "winner": [f.winner for f in fields.fields],
        "writable": [attribute_path(f) is not None for f in fields.fields],
        "path": pa.array([attribute_path(f) for f in fields.fields], pa.string()),
        "dynamics": [f.dynamics for f in fields.fields]})


CREATED_IDS = pa.schema([("pos", pa.int64()), ("contactid", pa.string())])


def created_ids(rows: pa.Table) -> pa.Table:
    """The contactid of the contact each creatable account (``pos, store, record_id``) would
    become; row by row, so the engine may call it on any batch of the rows."""
    ids = [engine_batches.created_contact_id(store, account) for store, account in
           zip(rows["store"].to_pylist(), rows["record_id"].to_pylist(), strict=True)]
    return pa.table({"pos": rows["pos"], "contactid": pa.array(ids, pa.string())})


def first_part(fields: FieldMap, required: list[str]) -> Pipeline:
    """Pairing, the drift candidates, and the values that need normalising."""
    p = Pipeline()
    steps.pairing(p)
    drift.pair_rows(p, fields)
    drift.candidates(p, fields)
    forms.needed_values(p, fields, required)
    return p


def second_part(fields: FieldMap, required: list[str]) -> Pipeline:
    """Review, duplicates, drift decisions, batches and problems."""
    p = Pipeline()
    steps.missing_required_field(p, required)
    steps.reports(p)
    drift.drift_steps(p)
    batches.batch_steps(p, fields)
    forms.problems(p, fields)
    return p


def reconcile(dynamics: pd.DataFrame, strivacity: pd.DataFrame, fields: FieldMap | None = None,
              *, memory_limit: str | None = None, temp_dir: str | Path | None = None,
              threads: int | None = None) -> Reconciliation:
    """Pair contacts with accounts and decide the batches (DESIGN §6) on embedded DuckDB.

    ``memory_limit`` (e.g. ``"4GB"``) caps DuckDB's memory; past it DuckDB spills to a private
    folder inside ``temp_dir`` (default: the system's temporary folder), removed afterwards.
    Neither frame is modified.
    """
    fields = fields or DEFAULT_FIELDS
    _check(dynamics, DYNAMICS_COLUMNS, DYNAMICS)
    _check(strivacity, STRIVACITY_COLUMNS, STRIVACITY)
    with DuckDB(memory_limit, temp_dir, threads) as db:
        return run_plan(db, dynamics, strivacity, fields)


def register_frames(db: Engine, dynamics: pd.DataFrame, strivacity: pd.DataFrame) -> None:
    """The plan's input tables ``d`` and ``s`` from two canonical frames (no copy)."""
    db.register("d", input_table(dynamics, DYNAMICS_COLUMNS))
    db.register("s", input_table(strivacity, STRIVACITY_COLUMNS))


def run_steps(db: Engine, fields: FieldMap) -> None:
    """Run the whole plan on ``db``, whose input tables ``d`` and ``s`` exist: every output
    becomes a table (``frames.output_queries`` reads them)."""
    required = [f.name for f in fields.fields if f.dynamics in DYNAMICS_CREATE_REQUIRED]
    db.register("field_map", field_table(fields))
    db.run(first_part(fields, required))
    # The two Python steps, where the engine runs: normalising each needed value once (one
    # implementation, recon.normalize) and fixing the ids of the contacts to create.
    db.map_arrow("forms", "SELECT kind, value FROM needed_values",
                 partial(forms.forms, region=fields.phone_region), forms.SCHEMA)
    db.map_arrow("created_ids", "SELECT pos, store, record_id FROM s_creatable", created_ids,
                 CREATED_IDS)
    db.run(second_part(fields, required))


def run_plan(db: Engine, dynamics: pd.DataFrame, strivacity: pd.DataFrame,
             fields: FieldMap) -> Reconciliation:
    """Run the whole plan on ``db`` and read the result back."""
    register_frames(db, dynamics, strivacity)
    return run_inputs(db, dynamics, strivacity, fields)


def run_inputs(db: Engine, dynamics: pd.DataFrame, strivacity: pd.DataFrame,
               fields: FieldMap) -> Reconciliation:
    """The plan once ``d`` and ``s`` are readable on ``db`` (the Spark engine makes them from
    its DataFrames), read back as frames."""
    run_steps(db, fields)
    return _result(db, dynamics, strivacity, fields)


def _result(db: Engine, dynamics: pd.DataFrame, strivacity: pd.DataFrame,
            fields: FieldMap) -> Reconciliation:
    sides = {DYNAMICS: (dynamics, frames.side_buckets(db, "d")),
             STRIVACITY: (strivacity, frames.side_buckets(db, "s"))}
    return Reconciliation(
        matches=frames.strings_frame(db.arrow(frames.MATCHES),
                                     ("match_type", "email_key", "contactid", "strivacity_id")),
        duplicates=frames.duplicates_frame(db),
        drift=frames.strings_frame(db.arrow(frames.DRIFT), DRIFT_COLUMNS),
        review=frames.review_frame(db), buckets=frames.buckets_frame(sides),
        batches=frames.batches(db, fields), summary=frames.summary(db, fields),
        problems=frames.problems_frame(db))
