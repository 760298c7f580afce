"""Embedded DuckDB: one in-memory connection per reconciliation, spilling under a memory limit.

Inputs are registered as Arrow tables (no copy), steps run in plan order, results come back
as Arrow. Nothing is downloaded at run time: extension auto-install and auto-load are off.
Spilled pages hold personal data, so they go to a private (0700) folder of their own, created
inside ``temp_dir`` (or the system's temporary folder) and removed when the connection closes.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import duckdb
import pyarrow as pa

from recon.engine.sql.dialect import DUCKDB
from recon.engine.sql.pipeline import Pipeline
from recon.errors import ConfigError, LimitReached
from recon.interrupts import interrupt_of
from recon.private import private_dir


class DuckDB:
    """A DuckDB connection with recon's settings; use it as a context manager."""

    dialect = DUCKDB
    #: Rows of a Python step (``map_arrow``) handed to Python at a time.
    map_rows = 500_000

    def __init__(self, memory_limit: str | None = None, temp_dir: str | Path | None = None,
                 threads: int | None = None, temp_limit: str | None = None) -> None:
        if temp_dir:  # created if missing; a folder the user already has is left as it is
            private_dir(temp_dir, narrow=False)
        # Ctrl-C and SIGTERM wait while the spill folder and the connection are made: a signal
        # in between would leave the folder, which no __exit__ would remove (it raises at the
        # unmask instead, where the folder is removed).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._spill = Path(tempfile.mkdtemp(prefix=".recon-duckdb-",
                                                dir=str(temp_dir) if temp_dir else None))
            self.con = self._connect(memory_limit, threads, temp_limit)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            self._close()
            raise
        self.memory_limit = memory_limit

    def _connect(self, memory_limit: str | None, threads: int | None,
                 temp_limit: str | None) -> duckdb.DuckDBPyConnection:
        config: dict[str, str | bool | int | float | list[str]] = {
            "temp_directory": str(self._spill), "preserve_insertion_order": False,
            "autoinstall_known_extensions": False, "autoload_known_extensions": False}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        if temp_limit:  # at most this much spilled; by default, the disk's free space
            config["max_temp_directory_size"] = temp_limit
        try:
            return duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:
            raise ConfigError(f"DuckDB refused the memory limit {memory_limit!r} ({exc}). Give "
                              "it as DuckDB writes it, e.g. 4GB or 512MB (--memory-limit, "
                              "memory_limit=).") from exc

    def _close(self) -> None:
        """Close the connection (if made) and remove the spill folder (if made)."""
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
        spill = getattr(self, "_spill", None)
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)

    def __enter__(self) -> DuckDB:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()
        stop = interrupt_of(value) if value is not None else None
        if stop is not None and stop is not value:  # DuckDB's "Query interrupted": say which
            raise stop from None

    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table readable by name (a scan of the Arrow buffers, no copy)."""
        self.con.register(name, table)

    def load(self, name: str, table: pa.Table) -> None:
        """Copy an Arrow table into a DuckDB table, which spills under the memory limit."""
        self.con.register(f"{name}_arrow", table)
        self._execute(self.dialect.statement(name, f"SELECT * FROM {name}_arrow", True), name)
        self.con.unregister(f"{name}_arrow")

    def run(self, pipeline: Pipeline) -> None:
        """Run the steps in order: views stay lazy, materialised steps become tables."""
        for step in pipeline:
            self._execute(self.dialect.statement(step.name, step.sql, step.materialise),
                          step.name)

    def map_arrow(self, name: str, sql: str, function: Callable[[pa.Table], pa.Table],
                  schema: pa.Schema) -> None:
        """``function`` over the query's rows (here, in this process), loaded as ``name``.

        The rows go through ``map_rows`` at a time, so Python holds one batch of them however
        many there are (a first sync needs tens of millions of values normalised).
        """
        source = f"{name}_rows"
        self._execute(self.dialect.statement(source, sql, True), name)
        total = int(self.con.sql(f"SELECT COUNT(*) FROM {source}").fetchall()[0][0])
        self.load(name, schema.empty_table())
        for start in range(0, total, self.map_rows):  # rowid: 0..total-1 in a new table
            batch = self.arrow(f"SELECT * FROM {source} WHERE rowid >= {start} "
                               f"AND rowid < {start + self.map_rows}")
            self.con.register(f"{name}_arrow", function(batch).cast(schema))
            self._execute(f"INSERT INTO {name} SELECT * FROM {name}_arrow", name)
            self.con.unregister(f"{name}_arrow")
        self._execute(f"DROP TABLE {source}", name)

    def arrow(self, sql: str) -> pa.Table:
        """A query's result as an Arrow table."""
        try:
            return self.con.sql(sql).to_arrow_table()
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            limit = self.limit_error(exc, "reading a result")
            if limit is None:
                raise
            raise limit from exc

    def stream(self, sql: str, rows: int) -> pa.RecordBatchReader:
        """A query's result as record batches of at most ``rows`` rows, fetched as they are
        read: a result of any size passes through in bounded memory."""
        try:
            reader = self.con.sql(sql).to_arrow_reader(rows)
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            limit = self.limit_error(exc, "reading a result")
            if limit is None:
                raise
            raise limit from exc
        return pa.RecordBatchReader.from_batches(reader.schema, self._batches(reader))

    def _batches(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            limit = self.limit_error(exc, "reading a result")
            if limit is None:
                raise
            raise limit from exc

    def spilled_bytes(self) -> int:
        """Bytes DuckDB holds in its temporary files now (0: nothing spilled)."""
        rows = self.con.sql("SELECT COALESCE(SUM(temporary_storage_bytes), 0) "
                            "FROM duckdb_memory()").fetchall()
        return int(rows[0][0])

    @property
    def spill_folder(self) -> Path:
        """The private folder DuckDB spills into (removed when the connection closes)."""
        return self._spill

    def _execute(self, sql: str, name: str) -> None:
        try:
            self.con.execute(sql)
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            limit = self.limit_error(exc, name)
            if limit is None:
                raise
            raise limit from exc
        except duckdb.Error as exc:  # a bug in a step: say which
            if interrupt_of(exc) is not None:
                raise
            raise RuntimeError(f"step {name!r} failed: {exc}\n{sql}") from exc

    def limit_error(self, exc: Exception, where: str) -> LimitReached | None:
        """Running out of memory or of spill disk as ``LimitReached`` with the fix; None for
        any other I/O failure, which is not a limit."""
        text = str(exc)
        first = text.splitlines()[0]
        if "max_temp_directory_size" in text or "No space left" in text:
            return LimitReached(
                f"DuckDB ran out of disk to spill to in {self._spill.parent} in step {where!r} "
                f"({first}). Give --temp-dir (temp_dir=) on a disk with more free space, or "
                "raise --memory-limit so that less is spilled.")
        if isinstance(exc, duckdb.OutOfMemoryException):
            return LimitReached(
                f"DuckDB ran out of memory under memory_limit={self.memory_limit!r} in step "
                f"{where!r} ({first}). Raise --memory-limit (memory_limit=), or give "
                "--temp-dir (temp_dir=) on a disk with more free space so DuckDB can spill.")
        return None
