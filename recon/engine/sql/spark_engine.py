"""Apache Spark (PySpark): the same plan of named steps on a SparkSession, local or on a cluster.

Each step's SQL is written once for DuckDB and transpiled for Spark SQL by sqlglot (splink's
approach); a step becomes a temporary view, a materialised one a cached table. The Python steps
(``map_arrow``: normalising the needed values, fixing created ids) run where Spark runs, as an
Arrow UDF over the rows, never in a loop on the driver.

The plan's names (``d``, ``s``, ``matches`` ...) live in a session of their own
(``SparkSession.newSession``: same cluster and cache, separate temporary views), so that running
recon in a notebook never replaces the user's views; the cached steps are dropped afterwards. On
Spark Connect they live on the caller's session (see ``Spark``), which recon leaves as it found it.
"""

from __future__ import annotations

import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from types import TracebackType
from typing import Any

import pyarrow as pa

from recon.engine.sql.dialect import SPARK
from recon.engine.sql.pipeline import Pipeline
from recon.errors import ConfigError, InputError

INSTALL = "pip install 'recon[spark]'"
#: Arrow types the plan's Python steps return, as Spark SQL writes them.
_SPARK_TYPES = {pa.string(): "string", pa.bool_(): "boolean", pa.int64(): "bigint",
                pa.timestamp("us", tz="UTC"): "timestamp"}
#: pyspark warns about pandas >= 3 on every Arrow UDF; recon hands it Arrow, not pandas.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"
_PROPAGATION = "spark.sql.constraintPropagation.enabled"


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError as exc:
        raise ConfigError(f"--engine spark needs PySpark, which is not installed: {INSTALL} "
                          "(Java 17 or later is needed too).") from exc
    return pyspark.sql


def transpile(sql: str) -> str:
    """A step's DuckDB SQL as Spark SQL (what sqlglot knows it cannot carry over raises)."""
    import sqlglot
    (spark_sql,) = sqlglot.transpile(sql, read="duckdb", write="spark",
                                     unsupported_level=sqlglot.ErrorLevel.RAISE)
    return spark_sql


def session(master: str | None = None) -> Any:
    """The SparkSession to run on: the active one (a Fabric or Databricks notebook), else Spark
    Connect at ``SPARK_REMOTE``, else spark-submit's, else a local one on every core;
    ``master`` names another."""
    sql = _pyspark()
    if master is None:
        active = sql.SparkSession.getActiveSession()
        if active is not None:
            return active
        # Spark Connect (the variable names the server), or spark-submit's own --master.
        if os.environ.get("SPARK_REMOTE") or os.environ.get("PYSPARK_GATEWAY_PORT"):
            return sql.SparkSession.builder.appName("recon").getOrCreate()
    else:
        _check_master(master)
    master = master or "local[*]"
    builder = (sql.SparkSession.builder.master(master).appName("recon")
               .config("spark.ui.showConsoleProgress", "false"))
    if master.startswith("local"):
        # Spark's 200 shuffle partitions are that many tasks per join on a few local cores:
        # 4 per core took a 200k x 200k run on local[2] from 486 s to 260 s.
        builder = builder.config("spark.sql.shuffle.partitions", str(4 * (os.cpu_count() or 1)))
        if not os.environ.get("PYSPARK_PYTHON"):
            # Local workers run this Python, the one with recon (pyspark reads only this).
            os.environ["PYSPARK_PYTHON"] = sys.executable
    made = builder.getOrCreate()
    if is_connect(made):  # a process already in Spark Connect mode has no master to pick
        raise ConfigError(f"this process runs Spark Connect, not {master!r}: leave "
                          "--spark-master out to use it.")
    running = made.sparkContext.master
    if running != master:
        raise ConfigError(f"this process already runs Spark on {running!r}, not {master!r}: "
                          "leave --spark-master out to use it, or stop that session first.")
    return made


def is_connect(spark: Any) -> bool:
    """A Spark Connect session (``pyspark.sql.connect``) rather than a classic one."""
    return type(spark).__module__.startswith("pyspark.sql.connect.")


def _check_master(master: str) -> None:
    """A master given while ``SPARK_REMOTE`` names a Connect server, or a Connect URL given
    as a master, is refused (pyspark would pick one of the two silently)."""
    if master.startswith("sc://"):
        raise ConfigError(f"{master!r} is a Spark Connect server, not a master: set "
                          f"SPARK_REMOTE={master} and leave --spark-master out.")
    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        raise ConfigError(f"SPARK_REMOTE names a Spark Connect server ({remote}) and "
                          f"--spark-master asks for {master!r}: unset SPARK_REMOTE to run on "
                          f"{master!r}, or leave --spark-master out to run on the server.")


def _map_batches(function: Callable[[pa.Table], pa.Table], schema: pa.Schema,
                 batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``function`` over each Arrow batch Spark hands a worker, cast to ``schema``."""
    for batch in batches:
        yield from function(pa.Table.from_batches([batch])).cast(schema).to_batches()


def map_frame(frame: Any, function: Callable[[pa.Table], pa.Table], schema: pa.Schema) -> Any:
    """A Spark DataFrame of ``function`` over ``frame``'s rows, batch by batch (lazy)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _PANDAS_WARNING, FutureWarning)
        return frame.mapInArrow(partial(_map_batches, function, schema), _ddl(schema))


def _ddl(schema: pa.Schema) -> str:
    return ", ".join(f"`{f.name}` {_SPARK_TYPES[f.type]}" for f in schema)


def _small_types(table: pa.Table) -> pa.Table:
    """Large strings (Spark's Arrow may use them) as plain strings, the type DuckDB returns."""
    schema = pa.schema([f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                        for f in table.schema])
    return table.cast(schema) if schema != table.schema else table


class Spark:
    """The plan on a SparkSession; use it as a context manager (it drops what it cached)."""

    dialect = SPARK

    def __init__(self, master: str | None = None, spark: Any = None) -> None:
        parent = spark if spark is not None else session(master)
        self.connect = is_connect(parent)
        # A namespace of its own for the plan's views. On Spark Connect a checkpointed step
        # belongs to the process's active session, not to the one that made it (pyspark 4.3's
        # conversion.proto_to_remote_cached_dataframe), so there the plan runs on the caller's
        # session itself, refusing to replace a view of theirs and restoring the setting below.
        self.session = parent if self.connect else parent.newSession()
        self._theirs = {t.name for t in parent.catalog.listTables() if t.isTemporary} \
            if self.connect else set()
        self._setting = self.session.conf.get(_PROPAGATION, None)
        # Constraint propagation grows exponentially on the drift steps' wide ORs of
        # IS DISTINCT FROM over aliased columns (the driver ran out of heap on 2,000 records).
        self.session.conf.set(_PROPAGATION, "false")
        self._views: list[str] = []
        self._kept: list[Any] = []  # computed steps, let go on exit
        self._shared: list[str] = []  # global views of the caller's frames, dropped on exit

    def __enter__(self) -> Spark:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        for name in reversed(self._views):
            self.session.catalog.dropTempView(name)
        for shared in self._shared:
            self.session.catalog.dropGlobalTempView(shared)
        self._kept.clear()  # Spark's cleaner frees the kept rows once nothing holds them
        if self.connect:  # the caller's own session: their setting back
            if self._setting is None:
                self.session.conf.unset(_PROPAGATION)
            else:
                self.session.conf.set(_PROPAGATION, self._setting)

    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table readable by name (sent to Spark as Arrow)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _PANDAS_WARNING, FutureWarning)
            frame = self.session.createDataFrame(table)
        self.view(name, frame, materialise=True)

    def load(self, name: str, table: pa.Table) -> None:
        """The same as ``register``: on Spark a local table is always sent to the executors."""
        self.register(name, table)

    def view(self, name: str, frame: Any, *, materialise: bool = False) -> None:
        """Make a Spark DataFrame readable by name; materialised: computed now, kept by the
        executors (memory, then disk) with its lineage cut."""
        self._forget(name)
        if frame.sparkSession is not self.session:  # the caller's: seen here through global_temp
            shared = f"recon_{uuid.uuid4().hex}_{name}"
            frame.createOrReplaceGlobalTempView(shared)
            self._shared.append(shared)
            frame = self.session.table(f"global_temp.{shared}")
        if materialise:
            frame = self._computed(frame, name)
            self._kept.append(frame)
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def run_sql(self, name: str, spark_sql: str) -> None:
        """A query written in Spark SQL (an input's adapter, not a rule), materialised."""
        self.view(name, self._sql(spark_sql, name), materialise=True)

    def run(self, pipeline: Pipeline) -> None:
        """Run the steps in order: views stay lazy, materialised steps are computed and kept."""
        for step in pipeline:
            sql = transpile(step.sql)
            if step.materialise:
                self.view(step.name, self._sql(sql, step.name), materialise=True)
            else:
                self._forget(step.name)
                self._sql(self.dialect.statement(step.name, sql, False), step.name)
                self._views.append(step.name)

    def map_arrow(self, name: str, sql: str, function: Callable[[pa.Table], pa.Table],
                  schema: pa.Schema) -> None:
        """``function`` over the query's rows, batch by batch on the executors, cached as
        ``name`` (``function`` maps each row on its own, so batches may fall anywhere)."""
        self.view(name, map_frame(self.session.sql(transpile(sql)), function, schema),
                  materialise=True)

    def arrow(self, sql: str) -> pa.Table:
        """A query's result as an Arrow table, in the query's order."""
        return _small_types(self.session.sql(transpile(sql)).toArrow())

    def _forget(self, name: str) -> None:
        """Drop a view of this name made earlier on this session (a rerun)."""
        if name in self._theirs:
            raise ConfigError(f"the Spark Connect session has a temporary view {name!r} of "
                              "its own, a name recon's plan uses on that session: drop or "
                              "rename that view, or run recon in a session of its own.")
        if name in self._views:
            self.session.catalog.dropTempView(name)
            self._views.remove(name)

    def _computed(self, frame: Any, name: str) -> Any:
        """``frame`` computed once and kept, its plan cut to the kept rows (a cached step that
        kept its lineage would carry every earlier step in each later plan)."""
        from pyspark.errors import AnalysisException, PythonException
        try:
            kept = frame.localCheckpoint(eager=True)
        except AnalysisException as exc:  # a bug in a step: say which
            raise RuntimeError(f"step {name!r} failed on Spark: {exc}") from exc
        except PythonException as exc:  # recon's own message, from an executor
            said = [line.split(": ", 1)[1] for line in str(exc).splitlines()
                    if line.startswith(f"{InputError.__module__}.InputError: ")]
            if said:
                raise InputError(said[-1]) from None
            raise
        if kept.sparkSession is not self.session:  # Spark Connect: see __init__
            raise ConfigError("on Spark Connect recon runs on the process's active session "
                              "(pyspark keeps a checkpointed step there), and this is another: "
                              "pass the active session's DataFrames, or run recon in a process "
                              "of its own with SPARK_REMOTE.")
        return kept

    def _sql(self, sql: str, name: str) -> Any:
        from pyspark.errors import AnalysisException
        try:
            return self.session.sql(sql)
        except AnalysisException as exc:  # a bug in a step: say which
            raise RuntimeError(f"step {name!r} failed on Spark: {exc}\n{sql}") from exc
