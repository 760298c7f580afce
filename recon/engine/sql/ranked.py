"""drift.csv and update_dynamics in pair order, sorted narrow and joined to their pairs after.

A first sync has a drift row per pair and field. Sorted as ``frames.DRIFT`` sorts it (an ORDER
BY over rows already joined to ``matches``), each row takes its pair's ids and email key (about
100 bytes) through DuckDB's sort, which spills them. Here DuckDB sorts only the narrow rows
(the pair's rank in ``contactid, d_pos`` order, the field's rank, values and codes); the pairs,
in that same order, are streamed once into an Arrow file in the private spill folder; and each
narrow chunk takes its pairs' strings by rank, reading that file forwards. Same rows, same
order as ``frames.DRIFT`` and ``frames.UPDATE_DYNAMICS``, which the frames read back (a
notebook's result, Spark) still use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.batches import UPDATE_DYNAMICS_COLUMNS
from recon.engine.sql import drift
from recon.engine.sql.drift import ACTION
from recon.engine.sql.duckdb_engine import DuckDB
from recon.fields import FieldMap
from recon.private import private_opener
from recon.runfolder import columns
from recon.runwriter import Rows, Source

#: Each pair's rank in drift.csv's order (contactid, then position: one rank per pair).
_RANKS = """(SELECT d_pos, ROW_NUMBER() OVER (ORDER BY contactid, d_pos) - 1 AS pair_rank
            FROM matches)"""
#: The pairs in rank order: the i-th row has rank i.
_PAIRS = "FROM matches m {join} ORDER BY m.contactid, m.d_pos"
DRIFT_ROWS = f"""
    SELECT o.pair_rank, r.field_rank, r.d_value, r.s_value, r.action, r.reason
    FROM drift r JOIN {_RANKS} o ON o.d_pos = r.d_pos ORDER BY o.pair_rank, r.field_rank"""
DRIFT_PAIRS = "SELECT m.contactid, m.strivacity_id, m.email_key " + _PAIRS.format(join="")
UPDATE_ROWS = f"""
    SELECT o.pair_rank, r.field_rank, r.new_value, r.d_value
    FROM drift r JOIN {_RANKS} o ON o.d_pos = r.d_pos
    WHERE r.action = {ACTION['update_dynamics']} ORDER BY o.pair_rank, r.field_rank"""
UPDATE_PAIRS = "SELECT m.contactid, x.etag " + _PAIRS.format(join="JOIN d x ON x.pos = m.d_pos")

Columns = dict[str, pa.Array | pa.ChunkedArray]
#: Builds an output chunk's columns from a narrow chunk and its pairs' rows.
Build = Callable[[pa.RecordBatch, pa.Table], Columns]


def sources(db: DuckDB, fields: FieldMap) -> dict[str, Source]:
    """The two outputs with a row per pair and field, as sources for ``recon.runwriter``."""
    names = pa.array(list(fields.names), pa.string())
    targets = pa.array([f.dynamics for f in fields.fields], pa.string())
    actions, reasons = pa.array(drift.ACTIONS, pa.string()), pa.array(drift.REASONS, pa.string())

    def drift_rows(rows: pa.RecordBatch, pairs: pa.Table) -> Columns:
        return {"contactid": pairs["contactid"], "strivacity_id": pairs["strivacity_id"],
                "email_key": pairs["email_key"], "field": names.take(rows["field_rank"]),
                "dynamics_value": rows["d_value"], "strivacity_value": rows["s_value"],
                "action": actions.take(rows["action"]), "reason": reasons.take(rows["reason"])}

    def update_rows(rows: pa.RecordBatch, pairs: pa.Table) -> Columns:
        return {"contactid": pairs["contactid"], "etag": pairs["etag"],
                "column": targets.take(rows["field_rank"]), "new": rows["new_value"],
                "old": rows["d_value"]}

    return {"drift": ranked_source(db, DRIFT_ROWS, DRIFT_PAIRS, columns("drift"), drift_rows),
            "update_dynamics": ranked_source(db, UPDATE_ROWS, UPDATE_PAIRS,
                                             UPDATE_DYNAMICS_COLUMNS, update_rows)}


def ranked_source(db: DuckDB, rows_sql: str, pairs_sql: str, names: tuple[str, ...],
                  build: Build) -> Source:
    """An output whose narrow rows (``rows_sql``, ``pair_rank`` first, in output order) take
    their pairs' columns from ``pairs_sql`` (every pair, in rank order)."""
    def rows(chunk: int) -> Rows:
        return Rows(names, _chunks(db, rows_sql, pairs_sql, build, chunk))
    return rows


def _chunks(db: DuckDB, rows_sql: str, pairs_sql: str, build: Build, chunk: int
            ) -> Iterator[pa.Table]:
    path = db.spill_folder / "pairs.arrow"  # one output at a time
    try:
        _write(db.stream(pairs_sql, chunk), path)  # before: one query streams at a time
        with pa.OSFile(str(path)) as source:
            pairs = _Pairs(pa.ipc.open_file(source))
            for part in db.stream(rows_sql, chunk):
                if part.num_rows:
                    yield pa.table(build(part, pairs.take(part.column(0))))
    finally:
        path.unlink(missing_ok=True)


def _write(reader: pa.RecordBatchReader, path: Path) -> None:
    with open(path, "wb", opener=private_opener) as out, \
            pa.ipc.new_file(out, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


class _Pairs:
    """The pairs file read forwards: the rows of the ranks asked for, which never go back."""

    def __init__(self, file: pa.ipc.RecordBatchFileReader) -> None:
        self._file, self._next = file, 0
        self._held, self._start = file.schema.empty_table(), 0  # rows from rank _start on

    def take(self, ranks: pa.Array) -> pa.Table:
        first, last = ranks[0].as_py(), ranks[-1].as_py()
        while self._start + self._held.num_rows <= last:
            if self._next >= self._file.num_record_batches:
                raise ValueError(f"no pair of rank {last}: the pairs and rows disagree")
            cut = min(max(first - self._start, 0), self._held.num_rows)
            self._held = pa.concat_tables([self._held.slice(cut), pa.table(
                self._file.get_batch(self._next))])
            self._start += cut
            self._next += 1
        return self._held.take(pc.subtract(ranks, pa.scalar(self._start, ranks.type)))
