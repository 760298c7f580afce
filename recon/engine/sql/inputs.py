"""The plan's input tables ``d`` and ``s``, read by DuckDB straight from the exports.

``load_exports`` gives the same tables as ``input_table(read_dynamics(path), DYNAMICS_COLUMNS)``
and ``input_table(read_strivacity(path), STRIVACITY_COLUMNS)``: columns, types, values and
order. CSV, JSON lines and Parquet go through DuckDB's own readers and SQL (``input_files``,
``input_sides``); email keys go through ``recon.normalize`` once per distinct value that the
ASCII fast path does not decide, and times outside the strict ISO form through
``recon.convert.timestamps``. Nothing is dropped or guessed: when a check finds anything SQL
cannot decide as the loader would (a malformed line, a repeated id, a bad flag or time, an
unexpected JSON type...), the side's loader reads the file instead, and so raises its exact
``InputError`` or gives its frame, which is loaded as Arrow. Other formats (Excel, JSON
documents) are read by their loaders too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from recon import normalize
from recon.convert import Origin, timestamps
from recon.engine.sql import input_files, input_sides
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.input_sql import macros
from recon.engine.sql.run import input_table
from recon.errors import InputError
from recon.fields import DYNAMICS_COLUMNS, MAPPED, STRIVACITY_COLUMNS, FieldMap
from recon.interrupts import interrupt_of
from recon.normalize import STRING
from recon.readers import file_format
from recon.settings import strivacity_store

TABLES = {"dynamics": "d", "strivacity": "s"}


@dataclass(frozen=True)
class Loaded:
    """How each side was read: ``duckdb`` (its own readers) or ``loader`` (recon's loader)."""

    dynamics: str
    strivacity: str


def load_exports(db: DuckDB, dynamics: str | Path, strivacity: str | Path, fields: FieldMap, *,
                 formats: Mapping[str, str | None] | None = None,
                 allow_empty: bool = False) -> Loaded:
    """Create the plan's input tables ``d`` and ``s`` in ``db`` from the two export files.

    ``formats`` maps a side to the format to read its file as, whatever its extension; a side
    with zero records is an ``InputError`` unless ``allow_empty`` (as ``recon.api.read_side``).
    """
    formats = formats or {}
    return Loaded(**{side: load_side(db, side, path, fields, formats.get(side), allow_empty)
                     for side, path in (("dynamics", dynamics), ("strivacity", strivacity))})


def load_side(db: DuckDB, side: str, path: str | Path, fields: FieldMap,
              format: str | None = None, allow_empty: bool = False) -> str:
    """One side's input table; ``duckdb`` when DuckDB's readers built it, else ``loader``."""
    from recon.api import SIDES, read_side  # recon.api will call this module: import late

    this = SIDES[side]
    kind = file_format(path, format, this.readers, this.name)
    columns = DYNAMICS_COLUMNS if side == "dynamics" else STRIVACITY_COLUMNS
    if kind in input_files.READERS:
        with _ordered(db):
            try:
                if _read_fast(db, side, path, fields, kind):
                    return "duckdb"
            except duckdb.Error as exc:  # a limit is said as one; the loader names the rest
                if interrupt_of(exc) is not None:
                    raise
                limit = db.limit_error(exc, f"reading {path}")
                if limit is not None:
                    raise limit from exc
    db.load(TABLES[side], input_table(read_side(side, path, fields, allow_empty, format),
                                      columns))
    return "loader"


@contextmanager
def _ordered(db: DuckDB) -> Iterator[None]:
    """Keep the file's order while reading (``rowid`` is then the record's position), with the
    input macros defined; the connection's own setting is restored afterwards."""
    rows = db.con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    db.con.execute("SET preserve_insertion_order = true")
    try:
        for statement in macros():
            db.con.execute(statement)
        yield
    finally:
        db.con.execute(f"SET preserve_insertion_order = {bool(rows and rows[0][0])}")


def _read_fast(db: DuckDB, side: str, path: str | Path, fields: FieldMap, kind: str) -> bool:
    """Build the side's table with DuckDB; False (nothing built) where the loader must read."""
    name = TABLES[side]
    cols_table = f"{name}_input_cols"
    try:
        raw = _raw(db, side, path, fields, kind)
        columns = None if raw is None else (
            input_sides.dynamics_columns(raw, fields, str(path)) if side == "dynamics" else
            input_sides.strivacity_columns(raw, fields, str(path), strivacity_store()))
        if raw is None or columns is None or not _columns(db, cols_table, raw, columns):
            return False
        if not _valid(db, cols_table, raw, columns):
            return False
        forms = _forms(db, name, cols_table, columns, path)
        if forms is None:
            return False
        db.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS "
                       f"{_final(cols_table, columns, forms, side)}")
        return True
    finally:
        for table in (cols_table, f"{name}_input_emails", f"{name}_input_stamps"):
            db.con.execute(f"DROP TABLE IF EXISTS {table}")


def _raw(db: DuckDB, side: str, path: str | Path, fields: FieldMap,
         kind: str) -> input_files.Raw | None:
    if side == "dynamics":
        wanted, paths = input_sides.dynamics_wanted(fields), input_sides.compositions
    else:
        wanted, paths = input_sides.strivacity_wanted(fields), input_sides.strivacity_key_paths
    reader = input_files.READERS[kind]
    if reader == "csv":
        return input_files.read_csv(db.con, path, wanted)
    if reader == "json":
        return input_files.read_json_lines(db.con, path, wanted, paths)
    return input_files.read_parquet(db.con, path, wanted)


def _columns(db: DuckDB, table: str, raw: input_files.Raw,
             columns: input_sides.Columns) -> bool:
    """Read the file into ``table`` (its ``rowid`` is the record's position): the columns, the
    checks, and what ``_valid`` counts. False where DuckDB refuses the file."""
    parts = [f"{sql} AS {key}" for key, sql in columns.select.items()]
    parts += [f"{sql} AS bad_{key}" for key, sql in columns.bad.items()]
    parts += [f"recon_fast_email({key}) AS {key}_fast" for key in columns.emails]
    parts += [f"recon_fast_stamp({key}) AS {key}_fast" for key in columns.stamps]
    parts += [f"({sql}) IS NOT NULL AS counted_{k}" for k, sql in enumerate(columns.counted)]
    parts += [f"{sql} IS NOT NULL AS spelled_{k}_{j}" for k, spelled in enumerate(_spelled(raw))
              for j, sql in enumerate(spelled)]
    try:
        db.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {', '.join(parts)} "
                       f"FROM {raw.table}")
    except duckdb.Error as exc:  # a malformed line, bad UTF-8, a JSON shape DuckDB will not take
        if interrupt_of(exc) is not None:
            raise
        if db.limit_error(exc, table) is not None:
            raise  # out of memory or of spill disk: a limit of this machine, not the file's
        return False
    return True


def _spelled(raw: input_files.Raw) -> list[list[str]]:
    """The JSON columns that can be spelled more than one way, each spelling's value."""
    return [s for s in raw.spellings.values() if len(s) > 1]


def _valid(db: DuckDB, table: str, raw: input_files.Raw, columns: input_sides.Columns) -> bool:
    """One pass over the records: ids present and unique, no check true, required columns
    with a value, each JSON column spelled one way only."""
    parts = ["count(*) > 0", "count(record_id) = count(*)",
             "count(DISTINCT record_id) = count(*)",
             *(f"NOT bool_or(bad_{key})" for key in columns.bad),
             *(f"bool_or(counted_{k})" for k in range(len(columns.counted))),
             *(" + ".join(f"CAST(bool_or(spelled_{k}_{j}) AS INTEGER)"
                          for j in range(len(spelled))) + " <= 1"
               for k, spelled in enumerate(_spelled(raw)))]
    rows = db.con.execute(f"SELECT {' AND '.join(parts)} FROM {table}").fetchall()
    return bool(rows and rows[0][0])


def _forms(db: DuckDB, name: str, table: str, columns: input_sides.Columns,
           path: str | Path) -> dict[str, str] | None:
    """Email keys and times SQL does not decide, each distinct value once through Python."""
    emails = " UNION ALL ".join(f"SELECT {c} AS value FROM {table} WHERE NOT {c}_fast"
                                for c in columns.emails)
    values = db.arrow(f"SELECT DISTINCT value FROM ({emails}) WHERE value IS NOT NULL")["value"]
    key, status = normalize.email_key(_series(values))
    db.load(f"{name}_input_emails", pa.table({
        "value": values, "key": pa.array(key.array, pa.string(), from_pandas=True),
        "status": pa.array(status.array, pa.string(), from_pandas=True)}))
    stamps = " UNION ALL ".join(f"SELECT {c} AS value FROM {table} WHERE NOT {c}_fast"
                                for c in columns.stamps)
    values = db.arrow(f"SELECT DISTINCT value FROM ({stamps}) WHERE value IS NOT NULL")["value"]
    try:
        parsed = timestamps(_series(values), "time", Origin(str(path)))
    except InputError:
        return None
    ns = parsed.to_numpy(dtype="datetime64[ns]").view("int64")
    db.load(f"{name}_input_stamps", pa.table({"value": values, "ns": pa.array(ns, pa.int64())}))
    return {"emails": f"{name}_input_emails", "stamps": f"{name}_input_stamps"}


def _series(values: pa.ChunkedArray) -> pd.Series:
    """Distinct values from DuckDB as the STRING series the loaders' functions take."""
    return pd.Series(pd.arrays.ArrowExtensionArray(values), dtype=STRING)


def _final(table: str, columns: input_sides.Columns, forms: Mapping[str, str], side: str) -> str:
    """The input table: the columns ``input_table`` gives, in its order. Rows are left in the
    joins' order, not sorted by ``pos``: every output query orders its own rows."""
    joins: dict[str, str] = {}

    def key(column: str, alias: str, part: str) -> str:
        joins[alias] = f"LEFT JOIN {forms['emails']} {alias} ON {alias}.value = c.{column}"
        fast = "lower(c.{0})" if part == "key" else "'ok'"
        none = "NULL" if part == "key" else "'missing'"
        return (f"CASE WHEN c.{column} IS NULL THEN {none} WHEN c.{column}_fast "
                f"THEN {fast.format(column)} ELSE {alias}.{part} END")
    out = {"pos": "c.rowid", "record_id": "c.record_id", "email": "c.email",
           "email_key": key("email", "e1", "key"), "email_status": key("email", "e1", "status"),
           **{m: f"c.{m}" for m in MAPPED}, "active": "c.active"}
    if side == "dynamics":
        out.update(etag="c.etag", email2_key=key("email2_key_raw", "e2", "key"),
                   email3_key=key("email3_key_raw", "e3", "key"))
    else:
        out.update(link="c.link", store="c.store")
    joins["t"] = f"LEFT JOIN {forms['stamps']} t ON t.value = c.updated"
    out["updated_ns"] = ("CASE WHEN c.updated IS NULL THEN NULL WHEN c.updated_fast "
                         "THEN recon_stamp_ns(c.updated) ELSE t.ns END")
    select = ", ".join(f"{sql} AS {name}" for name, sql in out.items())
    return f"SELECT {select} FROM {table} c {' '.join(joins.values())}"
