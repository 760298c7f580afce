"""``reconcile()`` on Spark: the plan of ``recon.engine.sql.run``, unchanged, on a SparkSession.

Inputs are canonical pandas frames (sent to Spark as Arrow) or canonical Spark DataFrames (read
where they are, on their own session). Either way the result is the same ``Reconciliation``
of pandas frames as every other engine gives.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
import pyarrow as pa

from recon.dynamics.frame import TIMES, to_canonical
from recon.engine.keys import DYNAMICS, STRIVACITY, series
from recon.engine.result import Reconciliation
from recon.engine.run import _check, is_spark_frame
from recon.engine.sql.run import _UNREAD, run_inputs, run_plan
from recon.engine.sql.spark_engine import Spark, map_frame
from recon.errors import InputError
from recon.fields import DEFAULT_FIELDS, DYNAMICS_COLUMNS, STRIVACITY_COLUMNS, FieldMap
from recon.normalize import STRING
from recon.readers import table_to_frame


def reconcile(dynamics: Any, strivacity: Any, fields: FieldMap | None = None, *,
              master: str | None = None, spark: Any = None) -> Reconciliation:
    """Pair contacts with accounts and decide the batches (DESIGN §6) on Spark.

    ``dynamics`` and ``strivacity`` are canonical pandas frames, or both canonical Spark
    DataFrames (then they run on their own session). ``spark`` is a SparkSession to run on;
    else ``master`` (``local[2]``, ``spark://host:7077``) or, with neither, the active session,
    Spark Connect at ``SPARK_REMOTE``, or ``local[*]``.
    """
    fields = fields or DEFAULT_FIELDS
    frames = [is_spark_frame(dynamics), is_spark_frame(strivacity)]
    if any(frames) and not all(frames):
        raise InputError("one side is a Spark DataFrame and the other is not",
                         fix="Give both sides as Spark DataFrames, or both as pandas frames.")
    if all(frames):
        if is_dataverse(dynamics):
            dynamics = canonical_contacts(dynamics, fields)
        with Spark(master, spark if spark is not None else dynamics.sparkSession) as db:
            return run_inputs(db, _spark_side(db, "d", dynamics, DYNAMICS_COLUMNS, DYNAMICS),
                              _spark_side(db, "s", strivacity, STRIVACITY_COLUMNS, STRIVACITY),
                              fields)
    _check(dynamics, DYNAMICS_COLUMNS, DYNAMICS)
    _check(strivacity, STRIVACITY_COLUMNS, STRIVACITY)
    with Spark(master, spark) as db:
        return run_plan(db, dynamics, strivacity, fields)


def _spark_side(db: Spark, name: str, frame: Any, columns: tuple[str, ...],
                side: str) -> pd.DataFrame:
    """A canonical Spark DataFrame as the plan's input ``name`` (as ``run.input_table`` makes
    it from pandas: strings, a boolean ``active``, ``updated_ns``, and ``pos`` in the frame's
    order); returns its ``record_id`` and ``email_key`` in that order."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"the {side} Spark DataFrame lacks canonical columns {missing}",
                         fix=f"Select recon.fields.{side.upper()}_COLUMNS from it, as recon's "
                             f"{side} reader names them.")
    db.view(f"{name}_given", frame)
    kept = [f"CAST(`{c}` AS BOOLEAN) AS active" if c == "active" else f"CAST(`{c}` AS STRING) "
            f"AS `{c}`" for c in columns if c not in _UNREAD]
    db.run_sql(name, f"""
        SELECT monotonically_increasing_id() AS pos, {", ".join(kept)},
               unix_micros(CAST(updated_at AS TIMESTAMP)) * 1000 AS updated_ns
        FROM {name}_given""")
    repeated = db.arrow(f"""SELECT record_id, COUNT(*) AS n FROM {name} GROUP BY record_id
                            HAVING COUNT(*) > 1 ORDER BY record_id LIMIT 1""").to_pylist()
    if repeated:  # as recon's readers refuse it (a Spark table is read in many batches)
        raise InputError(f"the id {repeated[0]['record_id']!r} is on {repeated[0]['n']} "
                         "records", file=f"the {side} Spark DataFrame", column="record_id",
                         fix="Each record must appear once: remove or merge the repeated "
                             "record, or export the records again")
    table = db.arrow(f"SELECT record_id, email_key FROM {name} ORDER BY pos")
    return pd.DataFrame({c: series(table[c]).astype(STRING) for c in ("record_id", "email_key")})


#: The canonical Dynamics columns as Arrow types (timestamps as Spark keeps them: microseconds).
CONTACT_SCHEMA = pa.schema([
    (c, pa.bool_() if c == "active" else pa.timestamp("us", tz="UTC") if c in TIMES
     else pa.string()) for c in DYNAMICS_COLUMNS])


def is_dataverse(frame: Any) -> bool:
    """A Dataverse ``contact`` table (logical names, as Fabric Link or Synapse Link export it)
    rather than a canonical frame."""
    return "contactid" in frame.columns and "record_id" not in frame.columns


def canonical_contacts(frame: Any, fields: FieldMap) -> Any:
    """A Dataverse ``contact`` Spark DataFrame as the canonical one, batch by batch on the
    executors, by recon's own Dynamics reader (``recon.dynamics.frame.to_canonical``)."""
    missing = [c for c in dict.fromkeys(("contactid", fields["email"].dynamics))
               if c not in frame.columns]
    if missing:
        raise InputError(f"the Dataverse contact table lacks the columns {missing}",
                         fix="Select them from the contact table (logical names).")
    return map_frame(frame, partial(_contacts, fields), CONTACT_SCHEMA)


def _contacts(fields: FieldMap, rows: pa.Table) -> pa.Table:
    canonical = to_canonical(table_to_frame(rows), fields, "the Spark contact table")
    return pa.table({f.name: pa.array(canonical[f.name], from_pandas=True).cast(f.type, safe=False)
                     for f in CONTACT_SCHEMA}, schema=CONTACT_SCHEMA)
