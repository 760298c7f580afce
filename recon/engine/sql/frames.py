"""The plan's outputs read back as the ``Reconciliation`` frames, sorted as today's engine sorts.

Sorting happens here, in each output query's ORDER BY, with the record's position as the last
key so that ties keep the input order, as the stable sorts of ``recon.engine`` do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.attributes import attribute_path
from recon.engine.batches import (
    EMAIL_ID,
    LANGUAGE,
    PHONE_ID,
    UPDATE_DYNAMICS_COLUMNS,
    UPDATE_STRIVACITY_COLUMNS,
    Batches,
)
from recon.engine.keys import DYNAMICS, STRIVACITY, series
from recon.engine.pairing import BUCKETS, REASONS
from recon.engine.result import BATCH_NAMES
from recon.engine.run import REVIEW_COLUMNS
from recon.engine.sql.pipeline import Engine
from recon.engine.values import PROBLEM_COLUMNS, problem_counts
from recon.fields import FieldMap
from recon.normalize import STRING

SIDES = (DYNAMICS, STRIVACITY)

MATCHES = """SELECT match_type, email_key, contactid, strivacity_id FROM matches
             ORDER BY contactid, d_pos"""
DUPLICATES = """
    SELECT side, email_key, record_id, group_size, suggested_survivor FROM (
        SELECT * FROM d_duplicates UNION ALL SELECT * FROM s_duplicates) x
    ORDER BY side, email_key, record_id, inactive, updated_ns DESC NULLS LAST, pos"""
DRIFT = """
    SELECT contactid, strivacity_id, email_key, field, d_value AS dynamics_value,
           s_value AS strivacity_value, action, reason
    FROM drift ORDER BY contactid, d_pos, field_rank"""
REVIEW = """
    SELECT side, record_id, email_key, reason, value FROM (
        SELECT 0 AS side_rank, * FROM d_review UNION ALL SELECT 1, * FROM s_review) x
    ORDER BY side_rank, record_id, pos"""
PROBLEMS = """SELECT side, record_id, field, value, reason FROM problems
              ORDER BY side_rank, record_id, field_rank, pos"""
UPDATE_DYNAMICS = """SELECT contactid, etag, column_name, new_value, old_value
                     FROM update_dynamics ORDER BY contactid, d_pos, field_rank"""
UPDATE_STRIVACITY = """SELECT account_id, store, attribute, value FROM update_strivacity
                       ORDER BY account_id, part, field_rank, s_pos"""


def strings_frame(table: pa.Table, names: tuple[str, ...]) -> pd.DataFrame:
    """Columns of ``table`` under ``names``, as Arrow-backed pandas columns."""
    return pd.DataFrame({name: series(table.column(i)) for i, name in enumerate(names)})


def _categorical(values: pa.ChunkedArray, names: tuple[str, ...]) -> pd.Categorical[str]:
    codes = pc.fill_null(pc.index_in(values, value_set=pa.array(names)), -1)
    return pd.Categorical.from_codes(codes.to_numpy().astype(np.int8),
                                     categories=pd.Index(list(names)))


def side_buckets(db: Engine, side: str) -> pa.Table:
    return db.arrow(f"SELECT bucket, reason FROM {side}_bucket ORDER BY pos")


def buckets_frame(parts: dict[str, tuple[pd.DataFrame, pa.Table]]) -> pd.DataFrame:
    """One row per record, Dynamics then Strivacity, each in the order of the frame given."""
    frames = []
    for code, (frame, table) in enumerate(parts.values()):
        frames.append(pd.DataFrame({
            "side": pd.Categorical.from_codes(np.full(len(frame), code, np.int8),
                                              categories=pd.Index(list(SIDES))),
            "record_id": frame["record_id"].reset_index(drop=True),
            "bucket": _categorical(table["bucket"], BUCKETS),
            "reason": _categorical(table["reason"], REASONS)}))
    return pd.concat(frames, ignore_index=True)


def duplicates_frame(db: Engine) -> pd.DataFrame:
    table = db.arrow(DUPLICATES)
    frame = strings_frame(table, ("side", "email_key", "record_id", "group_size",
                                  "suggested_survivor"))
    frame["group_size"] = table["group_size"].to_numpy().astype(np.int64)
    for column in ("side", "email_key", "record_id", "suggested_survivor"):
        frame[column] = frame[column].astype(STRING)
    return frame


def migrate_frame(db: Engine, fields: FieldMap) -> pd.DataFrame:
    table = db.arrow("SELECT * FROM migrate_to_strivacity ORDER BY record_id, pos")
    index = {f.name: i for i, f in enumerate(fields.fields)}

    def value(name: str) -> pd.Series:
        return series(table[f"v{index[name]}"])

    out = {"language": pd.Series([LANGUAGE] * len(table), dtype=STRING),
           EMAIL_ID: value("email"), PHONE_ID: value("phone")}
    for field in fields.fields:
        path = attribute_path(field)
        if path is not None and field.comparer != "bool":
            out[path] = value(field.name)
    out[fields.link_attribute] = series(table["record_id"])
    return pd.DataFrame(out).astype(STRING)


def create_frame(db: Engine, fields: FieldMap) -> pd.DataFrame:
    table = db.arrow("SELECT * FROM create_in_dynamics ORDER BY strivacity_id, pos")
    out = {"strivacity_id": series(table["strivacity_id"]),
           "contactid": series(table["contactid"])}
    for i, field in enumerate(fields.fields):
        if field.comparer != "bool":
            out[field.dynamics] = series(table[f"v{i}"])
    return pd.DataFrame(out).astype(STRING)


def batches(db: Engine, fields: FieldMap) -> Batches:
    return Batches(
        migrate_to_strivacity=migrate_frame(db, fields),
        create_in_dynamics=create_frame(db, fields),
        update_dynamics=strings_frame(db.arrow(UPDATE_DYNAMICS), UPDATE_DYNAMICS_COLUMNS),
        update_strivacity=strings_frame(db.arrow(UPDATE_STRIVACITY), UPDATE_STRIVACITY_COLUMNS))


def review_frame(db: Engine) -> pd.DataFrame:
    return strings_frame(db.arrow(REVIEW), REVIEW_COLUMNS)


def problems_frame(db: Engine) -> pd.DataFrame:
    return strings_frame(db.arrow(PROBLEMS), PROBLEM_COLUMNS)


def _side_summary(frame: pd.DataFrame, table: pa.Table, groups: int) -> dict[str, Any]:
    counts = pc.value_counts(table["bucket"]).to_pylist()
    by_bucket = {c["values"]: c["counts"] for c in counts}
    reasons = {c["values"]: c["counts"] for c in pc.value_counts(table["reason"]).to_pylist()}
    return {"records": len(frame), "matched": by_bucket.get("matched", 0),
            "only": by_bucket.get("only", 0), "review": by_bucket.get("review", 0),
            "duplicate_groups": groups, "invalid_email": int(frame["email_key"].isna().sum()),
            "review_reasons": {r: int(reasons.get(r, 0)) for r in REASONS}}


def _pairs(table: pa.Table) -> dict[str, int]:
    return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def summary(db: Engine, sides: dict[str, tuple[pd.DataFrame, pa.Table]], fields: FieldMap,
            batch_counts: dict[str, int], problems: pd.DataFrame) -> dict[str, Any]:
    """summary.json (DESIGN §7), counted by the engine."""
    groups = _pairs(db.arrow("""
        SELECT 'dynamics', COUNT(DISTINCT email_key) FROM d_duplicates UNION ALL
        SELECT 'strivacity', COUNT(DISTINCT email_key) FROM s_duplicates"""))
    total, by_link = db.arrow(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN by_link THEN 1 ELSE 0 END), 0) FROM matches"
    ).to_pylist()[0].values()
    per_field = _pairs(db.arrow(
        "SELECT field, COUNT(DISTINCT contactid) FROM drift GROUP BY field"))
    drift_pairs = db.arrow("SELECT COUNT(DISTINCT contactid) FROM drift").column(0)[0].as_py()
    return {
        **{name: _side_summary(frame, table, int(groups.get(name, 0)))
           for name, (frame, table) in sides.items()},
        "pairs": {"total": int(total), "by_link": int(by_link),
                  "by_email": int(total) - int(by_link)},
        "drift": {"pairs": int(drift_pairs),
                  "fields": {name: int(per_field.get(name, 0)) for name in fields.names}},
        "batches": {name: int(batch_counts[name]) for name in BATCH_NAMES},
        "problems": problem_counts(problems, fields),
    }
