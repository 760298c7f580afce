"""What differs between the engines that run the plan: the statements that hold a step's result.

The steps themselves are written once in a portable subset (ANSI joins, window functions, CASE,
COALESCE, ``IS [NOT] DISTINCT FROM``, ``CAST(... AS VARCHAR)``), which sqlglot transpiles for
Spark SQL (``spark_engine.transpile``: DuckDB's NULLS LAST default, for one, is written out).
Only how a named result is kept differs, and it lives here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """How one engine keeps a step: as a view, or computed once into a table."""

    name: str
    view: str
    table: str

    def statement(self, name: str, sql: str, materialise: bool) -> str:
        return (self.table if materialise else self.view).format(name=name, sql=sql)


DUCKDB = Dialect("duckdb", view="CREATE OR REPLACE TEMP VIEW {name} AS {sql}",
                 table="CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
#: Spark runs a view as this statement; a materialised step it computes and keeps with its
#: lineage cut (``Spark.view``: ``localCheckpoint``), since a table cached with this statement
#: would carry every earlier step's plan into each later one.
SPARK = Dialect("spark", view="CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}",
                table="CACHE TABLE {name} AS {sql}")
DIALECTS = {d.name: d for d in (DUCKDB, SPARK)}
