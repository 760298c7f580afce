"""``reconcile()``: canonical frames in, a ``Reconciliation`` out. Pure: no I/O, no mutation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine import batches as batch
from recon.engine.drift import drift
from recon.engine.duplicates import duplicate_groups
from recon.engine.keys import DYNAMICS, STRIVACITY, series, sort_indices, strings
from recon.engine.matches import matched_pairs
from recon.engine.pairing import BUCKETS, REASONS, REVIEW, Pairing, Side, pair
from recon.engine.result import Reconciliation, summarize
from recon.engine.values import problems as phone_problems
from recon.errors import ConfigError, InputError
from recon.fields import (
    DEFAULT_FIELDS,
    DYNAMICS_COLUMNS,
    DYNAMICS_CREATE_REQUIRED,
    STRIVACITY_COLUMNS,
    FieldMap,
)
from recon.normalize import STRING
from recon.parallel import threads
from recon.runfolder import columns

REVIEW_COLUMNS = columns("review")
SIDES = (DYNAMICS, STRIVACITY)


def _check(frame: pd.DataFrame, columns: tuple[str, ...], side: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"the {side} frame lacks canonical columns {missing}",
                         fix=f"Build it with recon's {side} reader, which gives every column.")


def _refuse_others(engine: str, *, duckdb: bool, spark: bool) -> None:
    """An unknown engine, or another engine's settings given, is a ConfigError with the fix."""
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not an engine; valid: {', '.join(ENGINES)}.")
    if engine != "duckdb" and duckdb:
        raise ConfigError("a memory limit and a temp folder are the duckdb engine's: pass "
                          "engine='duckdb' (--engine duckdb) with them, or leave them out.")
    if engine != "spark" and spark:
        raise ConfigError("a Spark master and a Spark session are the spark engine's: pass "
                          "engine='spark' (--engine spark) with them, or leave them out.")


def _categorical(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical[str]:
    """Codes (-1 for NA) into a categorical over ``names``, without touching strings."""
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(names)))


def _side_buckets(frame: pd.DataFrame, side: Side, code: int) -> pd.DataFrame:
    """One side's records in input order, with bucket and reason as categoricals."""
    return pd.DataFrame({
        "side": _categorical(np.full(len(frame), code, np.int8), SIDES),
        "record_id": frame["record_id"].reset_index(drop=True),
        "bucket": _categorical(side.bucket, BUCKETS),
        "reason": _categorical(side.reason, REASONS),
    })


def _review(frame: pd.DataFrame, side: Side, name: str) -> pd.DataFrame:
    """The side's review records (review.csv rows), sorted by record id."""
    held = np.flatnonzero(side.bucket == REVIEW)
    rows = frame.iloc[held]
    order = sort_indices(strings(rows["record_id"]))
    reasons = pc.take(pa.array(REASONS), pa.array(side.reason[held][order]))
    # The offending value, for people to fix it: the address an invalid_email row holds.
    invalid = pc.equal(reasons, "invalid_email")
    value = pc.if_else(invalid, strings(rows["email"]).take(pa.array(order)),
                       pa.scalar(None, pa.string()))
    return pd.DataFrame({
        "side": pd.Series([name] * len(held), dtype=STRING),
        "record_id": series(strings(rows["record_id"]).take(pa.array(order))),
        "email_key": series(strings(rows["email_key"]).take(pa.array(order))),
        "reason": series(reasons),
        "value": series(value),
    })


def _buckets(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairing: Pairing) -> pd.DataFrame:
    return pd.concat([_side_buckets(dynamics, pairing.dynamics, 0),
                      _side_buckets(strivacity, pairing.strivacity, 1)], ignore_index=True)


def _reviews(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairing: Pairing) -> pd.DataFrame:
    return pd.concat([_review(dynamics, pairing.dynamics, DYNAMICS),
                      _review(strivacity, pairing.strivacity, STRIVACITY)], ignore_index=True)


#: Engines ``reconcile`` can run on: ``numpy`` (this module, the default), ``duckdb`` and
#: ``spark`` (``recon.engine.sql``: the same rules as one plan of SQL steps).
ENGINES = ("numpy", "duckdb", "spark")


def is_spark_frame(frame: object) -> bool:
    """A pyspark DataFrame (classic or Spark Connect), told without importing pyspark."""
    return any(kind.__module__.startswith("pyspark.") and kind.__name__ == "DataFrame"
               for kind in type(frame).__mro__)


def reconcile(dynamics: Any, strivacity: Any,
              fields: FieldMap | None = None, *, engine: str | None = None,
              memory_limit: str | None = None, temp_dir: str | Path | None = None,
              spark_master: str | None = None, spark: Any = None) -> Reconciliation:
    """Pair Dynamics contacts with Strivacity accounts and decide the batches (DESIGN §6).

    Both frames are canonical (``recon.fields.DYNAMICS_COLUMNS`` / ``STRIVACITY_COLUMNS``):
    pandas frames, or two Spark DataFrames (then the engine is Spark, on their session);
    neither is modified. ``engine`` is one of ``ENGINES`` (default ``numpy``); all give the
    same result. ``memory_limit`` and ``temp_dir`` (where DuckDB spills past the limit) are
    DuckDB's; ``spark_master`` (``local[2]``, ``spark://host:7077``) and ``spark`` (a
    SparkSession) are Spark's.
    """
    if engine is None:
        engine = "spark" if is_spark_frame(dynamics) or is_spark_frame(strivacity) else "numpy"
    _refuse_others(engine, duckdb=memory_limit is not None or temp_dir is not None,
                   spark=spark_master is not None or spark is not None)
    if engine == "spark":
        from recon.engine.sql.spark_run import reconcile as on_spark
        return on_spark(dynamics, strivacity, fields, master=spark_master, spark=spark)
    if is_spark_frame(dynamics) or is_spark_frame(strivacity):
        raise ConfigError(f"Spark DataFrames are reconciled on Spark, not engine={engine!r}: "
                          "leave engine out (or pass engine='spark'), or give pandas frames.")
    if engine == "duckdb":
        from recon.engine.sql import reconcile as on_duckdb
        return on_duckdb(dynamics, strivacity, fields, memory_limit=memory_limit,
                         temp_dir=temp_dir)
    fields = fields or DEFAULT_FIELDS
    _check(dynamics, DYNAMICS_COLUMNS, DYNAMICS)
    _check(strivacity, STRIVACITY_COLUMNS, STRIVACITY)
    required = [f.name for f in fields.fields if f.dynamics in DYNAMICS_CREATE_REQUIRED]
    pairing = pair(dynamics, strivacity, required)
    with threads() as pool:  # these only read the pairing: made beside pairs, drift, batches
        groups = pool.submit(duplicate_groups, dynamics, strivacity, pairing)
        buckets = pool.submit(_buckets, dynamics, strivacity, pairing)
        review = pool.submit(_reviews, dynamics, strivacity, pairing)
        problems = pool.submit(phone_problems, dynamics, strivacity, fields)
        pairs = matched_pairs(dynamics, strivacity, pairing)
        changes, drift_pair = drift(dynamics, strivacity, pairs, fields, pairing.keys)
        decided = batch.decide(dynamics, strivacity, pairing, pairs, changes, drift_pair, fields)
        duplicates = groups.result()
    summary = summarize(dynamics, strivacity, pairing, duplicates, changes, fields,
                        decided.line_counts(), problems.result())
    return Reconciliation(pairs.frame, duplicates, changes, review.result(), buckets.result(),
                          decided, summary, problems.result())
