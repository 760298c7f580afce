"""The plan's outputs: one ORDER BY query per run-folder output, giving the columns of the
``Reconciliation`` frame it holds (``output_queries``: what ``recon.runwriter`` streams into the
run folder; the DuckDB job writes drift.csv and update_dynamics, a row per pair and field, in
the same order through ``ranked``), those frames read back for a notebook, and summary.json
counted from the tables.

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
from recon.engine.sql import drift
from recon.engine.sql.drift import ACTION, named
from recon.engine.sql.pipeline import Engine
from recon.engine.values import PROBLEM_COLUMNS
from recon.fields import FieldMap
from recon.normalize import STRING

SIDES = (DYNAMICS, STRIVACITY)

MATCHES = """SELECT match_type, email_key, contactid, strivacity_id FROM matches
             ORDER BY contactid, d_pos"""
DUPLICATES = """
    SELECT side, email_key, record_id, group_size, suggested_survivor FROM (
        SELECT * FROM d_duplicates UNION ALL SELECT * FROM s_duplicates) x
    ORDER BY side, email_key, record_id, inactive, updated_ns DESC NULLS LAST, pos"""
#: drift.csv: a drift row's ids and email key are its pair's (``matches``), its field's name
#: is in ``field_map``, its action and reason are codes.
DRIFT = f"""
    SELECT m.contactid, m.strivacity_id, m.email_key, f.field, r.d_value AS dynamics_value,
           r.s_value AS strivacity_value, {named('r.action', drift.ACTIONS)} AS action,
           {named('r.reason', drift.REASONS)} AS reason
    FROM drift r JOIN matches m ON m.d_pos = r.d_pos
    JOIN field_map f ON f.field_rank = r.field_rank
    ORDER BY m.contactid, r.d_pos, r.field_rank"""
REVIEW = """
    SELECT side, record_id, email_key, reason, value FROM (
        SELECT 0 AS side_rank, * FROM d_review UNION ALL SELECT 1, * FROM s_review) x
    ORDER BY side_rank, record_id, pos"""
PROBLEMS = """SELECT side, record_id, field, value, reason FROM problems
              ORDER BY side_rank, record_id, field_rank, pos"""
UPDATE_DYNAMICS = """
    SELECT contactid, etag, column_name AS "column", new_value AS new, old_value AS old
    FROM update_dynamics ORDER BY contactid, d_pos, field_rank"""
UPDATE_STRIVACITY = """
    SELECT account_id AS "accountId", store AS "identityStore", attribute, value
    FROM update_strivacity ORDER BY account_id, part, pair_id, pair_pos, field_rank"""
#: The run folder's tables by result attribute (``recon.runfolder.TABLES``).
TABLE_QUERIES = {"matches": MATCHES, "duplicates": DUPLICATES, "drift": DRIFT,
                 "review": REVIEW, "problems": PROBLEMS}


def _name(column: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + column.replace('"', '""') + '"'


def _select(columns: dict[str, str]) -> str:
    return ", ".join(f"CAST({sql} AS VARCHAR) AS {_name(name)}" for name, sql in columns.items())


def migrate_query(fields: FieldMap) -> str:
    """Strivacity create-account rows: the Strivacity paths as column names."""
    index = {f.name: i for i, f in enumerate(fields.fields)}
    columns = {"language": f"'{LANGUAGE}'", EMAIL_ID: f"m.v{index['email']}",
               PHONE_ID: f"m.v{index['phone']}"}
    for i, field in enumerate(fields.fields):
        path = attribute_path(field)
        if path is not None and field.comparer != "bool":
            columns[path] = f"m.v{i}"
    columns[fields.link_attribute] = "m.record_id"
    return (f"SELECT {_select(columns)} FROM migrate_to_strivacity m "
            "ORDER BY m.record_id, m.pos")


def create_query(fields: FieldMap) -> str:
    """Dataverse contact rows (with the tracing ``strivacity_id``): Dataverse column names."""
    columns = {"strivacity_id": "c.strivacity_id", "contactid": "c.contactid"}
    for i, field in enumerate(fields.fields):
        if field.comparer != "bool":
            columns[field.dynamics] = f"c.v{i}"
    return (f"SELECT {_select(columns)} FROM create_in_dynamics c "
            "ORDER BY c.strivacity_id, c.pos")


def output_queries(fields: FieldMap) -> dict[str, str]:
    """Every output's query, by table attribute and batch name, in file order."""
    return {**TABLE_QUERIES, "migrate_to_strivacity": migrate_query(fields),
            "create_in_dynamics": create_query(fields), "update_dynamics": UPDATE_DYNAMICS,
            "update_strivacity": UPDATE_STRIVACITY}


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


def _named_frame(table: pa.Table) -> pd.DataFrame:
    return strings_frame(table, tuple(table.column_names))


def migrate_frame(db: Engine, fields: FieldMap) -> pd.DataFrame:
    return _named_frame(db.arrow(migrate_query(fields)))


def create_frame(db: Engine, fields: FieldMap) -> pd.DataFrame:
    return _named_frame(db.arrow(create_query(fields)))


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


def _pairs(table: pa.Table) -> dict[Any, int]:
    return {k: int(v) for k, v in zip(table.column(0).to_pylist(), table.column(1).to_pylist(),
                                      strict=True)}


def _side_summary(db: Engine, side: str, groups: int) -> dict[str, Any]:
    records, invalid = db.arrow(
        f"SELECT COUNT(*), COUNT(*) - COUNT(email_key) FROM {side}").to_pylist()[0].values()
    by_bucket = _pairs(db.arrow(f"SELECT bucket, COUNT(*) FROM {side}_bucket GROUP BY bucket"))
    reasons = _pairs(db.arrow(f"SELECT reason, COUNT(*) FROM {side}_bucket "
                              "WHERE reason IS NOT NULL GROUP BY reason"))
    return {"records": int(records), "matched": by_bucket.get("matched", 0),
            "only": by_bucket.get("only", 0), "review": by_bucket.get("review", 0),
            "duplicate_groups": groups, "invalid_email": int(invalid),
            "review_reasons": {r: reasons.get(r, 0) for r in REASONS}}


def _updated_pairs(action: str) -> str:
    """The pairs (``matches``) with a drift row of ``action``, once each."""
    return (f"matches m JOIN (SELECT DISTINCT d_pos FROM drift WHERE action = {ACTION[action]})"
            " u ON u.d_pos = m.d_pos")


def batch_counts(db: Engine) -> dict[str, int]:
    """Lines each batch file has: the updates are one line per contact / account, counted
    over the pairs with an update rather than over every update row."""
    counts = db.arrow(f"""SELECT
        (SELECT COUNT(*) FROM migrate_to_strivacity) AS migrate_to_strivacity,
        (SELECT COUNT(*) FROM create_in_dynamics) AS create_in_dynamics,
        (SELECT COUNT(DISTINCT m.contactid) FROM {_updated_pairs('update_dynamics')})
            AS update_dynamics,
        (SELECT COUNT(DISTINCT account_id) FROM (
            SELECT m.strivacity_id AS account_id FROM {_updated_pairs('update_strivacity')}
            UNION ALL SELECT strivacity_id FROM matches WHERE lacks_link
            UNION ALL SELECT strivacity_id FROM create_in_dynamics) a) AS update_strivacity""")
    return {name: int(value) for name, value in counts.to_pylist()[0].items()}


#: Contacts with drift per field: a pair's rows have one field each, so only contactids that
#: several pairs share need a distinct count (``pair_contacts``), a few rows at most.
PER_FIELD = """
    SELECT f.field, SUM(CASE WHEN p.shared THEN 0 ELSE 1 END)
                    + COUNT(DISTINCT CASE WHEN p.shared THEN p.contactid END)
    FROM drift r JOIN pair_contacts p ON p.d_pos = r.d_pos
    JOIN field_map f ON f.field_rank = r.field_rank GROUP BY f.field"""


def summary(db: Engine, fields: FieldMap) -> dict[str, Any]:
    """summary.json (DESIGN §7), counted by the engine from the plan's tables."""
    groups = _pairs(db.arrow("""
        SELECT 'dynamics', COUNT(DISTINCT email_key) FROM d_duplicates UNION ALL
        SELECT 'strivacity', COUNT(DISTINCT email_key) FROM s_duplicates"""))
    total, by_link = db.arrow(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN by_link THEN 1 ELSE 0 END), 0) FROM matches"
    ).to_pylist()[0].values()
    per_field = _pairs(db.arrow(PER_FIELD))
    drift_pairs = db.arrow("""
        SELECT COUNT(DISTINCT m.contactid) FROM matches m
        JOIN (SELECT DISTINCT d_pos FROM drift) r ON r.d_pos = m.d_pos""").column(0)[0].as_py()
    problems = _pairs(db.arrow("SELECT field, COUNT(*) FROM problems GROUP BY field"))
    counts = batch_counts(db)
    return {
        **{name: _side_summary(db, side, groups.get(name, 0))
           for name, side in ((DYNAMICS, "d"), (STRIVACITY, "s"))},
        "pairs": {"total": int(total), "by_link": int(by_link),
                  "by_email": int(total) - int(by_link)},
        "drift": {"pairs": int(drift_pairs),
                  "fields": {name: int(per_field.get(name, 0)) for name in fields.names}},
        "batches": {name: counts[name] for name in BATCH_NAMES},
        "problems": {f.name: problems.get(f.name, 0) for f in fields.fields
                     if f.comparer == "phone"},
    }
