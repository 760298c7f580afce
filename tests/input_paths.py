"""The two ways a side's input table is made, held together: recon's loaders, and DuckDB's own
readers (``recon.engine.sql.inputs``). ``same_outcome`` runs both on one file and asserts they
agree: the same ``InputError`` message (file, line, column, fix), or the same table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from recon.api import read_side
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.inputs import TABLES, load_side
from recon.engine.sql.run import input_table
from recon.errors import ConfigError, InputError
from recon.fields import DEFAULT_FIELDS, DYNAMICS_COLUMNS, STRIVACITY_COLUMNS, FieldMap

COLUMNS = {"dynamics": DYNAMICS_COLUMNS, "strivacity": STRIVACITY_COLUMNS}
Outcome = pa.Table | InputError | ConfigError


def by_loader(side: str, path: str | Path, fields: FieldMap = DEFAULT_FIELDS,
              format: str | None = None) -> Outcome:
    """The table today's loader gives (``input_table(read_side(...))``), or its error."""
    try:
        return input_table(read_side(side, path, fields, True, format), COLUMNS[side])
    except (InputError, ConfigError) as exc:
        return exc


def by_duckdb(side: str, path: str | Path, fields: FieldMap = DEFAULT_FIELDS,
              format: str | None = None) -> tuple[Outcome, str | None]:
    """The table ``load_side`` builds, or its error; and how it was read."""
    with DuckDB() as db:
        try:
            how = load_side(db, side, path, fields, format, allow_empty=True)
        except (InputError, ConfigError) as exc:
            return exc, None
        return db.arrow(f"SELECT * FROM {TABLES[side]} ORDER BY pos"), how


def assert_same(want: Outcome, got: Outcome) -> None:
    if isinstance(want, Exception) or isinstance(got, Exception):
        assert type(got) is type(want), (want, got)
        assert str(got) == str(want)
        if isinstance(want, InputError) and isinstance(got, InputError):
            assert (got.file, got.line, got.column, got.record, got.fix) == (
                want.file, want.line, want.column, want.record, want.fix)
        return
    assert got.schema == want.schema, (got.schema, want.schema)
    for name in want.column_names:
        assert got[name].equals(want[name]), (name, got[name].to_pylist()[:5],
                                              want[name].to_pylist()[:5])


def same_outcome(side: str, path: str | Path, fields: FieldMap = DEFAULT_FIELDS,
                 format: str | None = None) -> str | None:
    """Assert both paths agree on ``path``; how DuckDB's path read it (None: it raised)."""
    got, how = by_duckdb(side, path, fields, format)
    assert_same(by_loader(side, path, fields, format), got)
    return how


def checked(side: str, read: Callable[..., object]) -> Callable[..., object]:
    """``read`` (``read_dynamics``/``read_strivacity``), also checking that DuckDB's path
    agrees on the same file; what ``read`` gives or raises is passed on unchanged."""
    def both(path: str | Path, format: str | None = None, fields: FieldMap = DEFAULT_FIELDS,
             **kwargs: object) -> object:
        if not kwargs:  # an explicit store is not one of load_side's inputs
            same_outcome(side, path, fields, format)
        return read(path, format=format, fields=fields, **kwargs)
    return both
