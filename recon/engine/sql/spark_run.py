"""``reconcile()`` on Spark: the plan of ``recon.engine.sql.run``, unchanged, on a SparkSession.

Inputs are canonical pandas frames (sent to Spark as Arrow) or canonical Spark DataFrames (read
where they are, on their own session). Either way the result is the same ``Reconciliation``
of pandas frames as every other engine gives.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from recon.engine.keys import DYNAMICS, STRIVACITY, series
from recon.engine.result import Reconciliation
from recon.engine.run import _check, is_spark_frame
from recon.engine.sql.run import _UNREAD, run_inputs, run_plan
from recon.engine.sql.spark_engine import Spark
from recon.errors import InputError
from recon.fields import DEFAULT_FIELDS, DYNAMICS_COLUMNS, STRIVACITY_COLUMNS, FieldMap
from recon.normalize import STRING


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
    table = db.arrow(f"SELECT record_id, email_key FROM {name} ORDER BY pos")
    return pd.DataFrame({c: series(table[c]).astype(STRING) for c in ("record_id", "email_key")})
