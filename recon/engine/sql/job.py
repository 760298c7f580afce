"""The whole job on DuckDB: two exports in, a run folder out, no result frame in between.

``reconcile_to_folder`` is what ``recon reconcile --engine duckdb`` (``reconcile_files``) runs:
register the inputs, run the plan, count the summary and stream every output from DuckDB into
the run folder (``recon.runwriter``). The returned ``Reconciliation`` holds the summary; its
tables load from the run folder only when asked for, so a run of any size holds no frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from recon.engine.result import Reconciliation
from recon.engine.sql import frames, ranked
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.inputs import load_exports
from recon.engine.sql.run import run_steps
from recon.fields import FieldMap
from recon.runwriter import CHUNK, Source, query_source, write_run_folder


@dataclass(frozen=True)
class Exports:
    """The two exports of a job and how to read them."""

    dynamics: str | Path
    strivacity: str | Path
    allow_empty: bool = False
    formats: Mapping[str, str | None] | None = None


def register_inputs(db: DuckDB, exports: Exports, fields: FieldMap) -> None:
    """Create the plan's input tables ``d`` and ``s`` from the two exports, read by DuckDB
    itself where it reads them exactly as recon's loaders do (``recon.engine.sql.inputs``),
    else by the loaders; either way every ``InputError`` and the zero-records check hold."""
    load_exports(db, exports.dynamics, exports.strivacity, fields, formats=exports.formats,
                 allow_empty=exports.allow_empty)


def plan_sources(db: DuckDB, fields: FieldMap) -> dict[str, Source]:
    """Every run-folder output as a query streamed from the plan's tables; the two with a row
    per pair and field sorted narrow and joined to their pairs after (``ranked``)."""
    return {**{name: query_source(db, sql) for name, sql in frames.output_queries(fields).items()},
            **ranked.sources(db, fields)}


def reconcile_to_folder(exports: Exports, fields: FieldMap, out: str | Path, *,
                        memory_limit: str | None = None, temp_dir: str | Path | None = None,
                        chunk: int = CHUNK) -> Reconciliation:
    """Reconcile two exports on DuckDB and write the run folder into ``out``; the result's
    tables load lazily from the folder (``Reconciliation.of_folder``)."""
    with DuckDB(memory_limit, temp_dir) as db:
        register_inputs(db, exports, fields)
        run_steps(db, fields)
        summary = frames.summary(db, fields)
        folder = write_run_folder(summary, plan_sources(db, fields), out, chunk=chunk)
    return Reconciliation.of_folder(folder, summary)
