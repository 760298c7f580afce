"""The run folder writer (DESIGN §7; every name and column from ``recon.runfolder``).

One writer for every engine: each output (a run-folder table or a batch) comes from a
``Source``, which opens the output's rows in file order as Arrow chunks of at most ``chunk``
rows: an ORDER BY query streamed out of the engine (``query_source``: DuckDB's record batch
reader) or a pandas frame of a notebook's ``Reconciliation`` (``frame_source``). Each chunk is
encoded (``recon.outputs`` for CSV cells, ``recon.engine.lines`` for JSON lines) and appended
to its file, so no array ever holds a whole file and a run folder of any size is written in
bounded memory. The update batches put all the rows of one record on one line: a chunk that
ends inside a record hands that record's rows on to the next chunk (``whole_records``).

A run folder that is being written never looks finished: the old ``summary.json`` goes
first, each file is written under a hidden ``.partial`` name and renamed when whole
(``recon.private.atomic_path``), and the new ``summary.json`` is written last. A write that
fails or is killed leaves no ``summary.json``, which is what readers (``recon report``,
``recon apply``, the run history) take a finished run folder by. Personal data: folders 0700,
files 0600.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.lines import TEXTS
from recon.errors import ReconError
from recon.outputs import Cells, csv_header, csv_lines, import_cells, safe_cells
from recon.private import (
    atomic_path,
    private_dir,
    private_opener,
    private_tree,
    write_private_text,
)
from recon.runfolder import BATCHES, BATCHES_DIR, SUMMARY_FILE, TABLES

if TYPE_CHECKING:
    from recon.engine import Reconciliation

#: Rows encoded at a time: bounds memory, and keeps every array far below Arrow's 2 GiB.
CHUNK = 200_000
#: The update batches' record key: consecutive rows with one key make one line.
RECORD_KEYS = {"update_dynamics": "contactid", "update_strivacity": "accountId"}


@dataclass(frozen=True)
class Rows:
    """One output's rows: its column names and its chunks, in file order."""

    columns: tuple[str, ...]
    chunks: Iterable[pa.Table]


#: Opens one output's rows, ``chunk`` rows at most per chunk (called once, when written).
Source = Callable[[int], Rows]


class Streams(Protocol):
    """What the writer needs of an engine: a query's rows as a stream of record batches."""

    def stream(self, sql: str, rows: int) -> pa.RecordBatchReader: ...


def query_source(db: Streams, sql: str) -> Source:
    """An output read from the engine by its ORDER BY query, in record batches."""
    def rows(chunk: int) -> Rows:
        reader = db.stream(sql, chunk)
        return Rows(tuple(reader.schema.names),
                    (pa.Table.from_batches([batch]) for batch in reader))
    return rows


def frame_source(frame: pd.DataFrame) -> Source:
    """An output held as a pandas frame, converted to Arrow one chunk at a time."""
    def rows(chunk: int) -> Rows:
        parts = (pa.Table.from_pandas(frame.iloc[start:start + chunk], preserve_index=False)
                 for start in range(0, len(frame), chunk))
        return Rows(tuple(str(name) for name in frame.columns), parts)
    return rows


def result_sources(result: Reconciliation) -> dict[str, Source]:
    """A notebook's ``Reconciliation`` (pandas frames) as the writer's sources."""
    sources = {table.attribute: frame_source(getattr(result, table.attribute)[list(table.columns)])
               for table in TABLES.values()}
    sources.update({name: frame_source(result.batch(name)) for name in BATCHES})
    return sources


def write_run_folder(summary: Mapping[str, Any], sources: Mapping[str, Source],
                     folder: str | Path, *, chunk: int = CHUNK) -> Path:
    """Write the run folder into ``folder`` (created if needed) from ``sources`` (by table
    attribute and batch name); returns its path. ``summary`` is summary.json's dict."""
    folder = private_dir(folder)  # personal data: 0700 folders, 0600 files (recon.private)
    (folder / SUMMARY_FILE).unlink(missing_ok=True)  # not finished until the end
    batches = private_dir(folder / BATCHES_DIR)
    for name, table in TABLES.items():
        with _disk(folder / name), _Files(folder / name) as (out,), \
                _ahead(sources[table.attribute](chunk)) as rows:
            _csv(out, name, table.columns, rows.chunks,
                 safe_cells if table.people else import_cells)
    for name, batch in BATCHES.items():
        paths = [batches / batch.file, *([batches / batch.csv] if batch.csv else [])]
        with _disk(paths[0]), _Files(*paths) as outs, _ahead(sources[name](chunk)) as rows:
            _batch(name, rows, dict(zip(paths, outs, strict=True)))
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    with _disk(folder / SUMMARY_FILE):
        write_private_text(folder / SUMMARY_FILE, text)
    return private_tree(folder)


@contextmanager
def _disk(path: Path) -> Iterator[None]:
    """A file system error while writing ``path`` as a sentence with the fix."""
    try:
        yield
    except OSError as exc:
        raise ReconError(f"{path} could not be written ({exc.strerror or exc}). Free disk "
                         "space, or write the run folder where you can (--out); this one has "
                         "no summary.json, so nothing takes it as finished.") from exc


class _Files(ExitStack):
    """Files opened for writing under hidden temporary names, each renamed over its target
    only when the block succeeds (``recon.private.atomic_path``)."""

    def __init__(self, *paths: Path) -> None:
        super().__init__()
        self._paths = paths

    def __enter__(self) -> tuple[BinaryIO, ...]:  # type: ignore[override]
        super().__enter__()
        temps = [self.enter_context(atomic_path(path)) for path in self._paths]
        return tuple(self.enter_context(open(temp, "wb", opener=private_opener))
                     for temp in temps)


@contextmanager
def _ahead(rows: Rows, depth: int = 2) -> Iterator[Rows]:
    """``rows`` whose next chunks a worker thread reads while this one is encoded: the engine
    fetches and pyarrow encodes side by side (both release the GIL). At most ``depth`` chunks
    wait; leaving the block stops the worker and waits for it."""
    waiting: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for part in rows.chunks:
                if stop.is_set():
                    return
                waiting.put(("chunk", part))
            waiting.put(("end", None))
        except BaseException as exc:  # handed to the writer, which raises it
            waiting.put(("error", exc))

    def chunks() -> Iterator[pa.Table]:
        while True:
            kind, item = waiting.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item

    worker = threading.Thread(target=read, name="recon-rows", daemon=True)
    worker.start()
    try:
        yield Rows(rows.columns, chunks())
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting to hand over a chunk
            with suppress(Empty):
                waiting.get(timeout=0.05)
        worker.join()


def _csv(out: BinaryIO, where: str, columns: tuple[str, ...], chunks: Iterable[pa.Table],
         cells_of: Cells) -> None:
    _write_lines(out, where, csv_header(columns))
    for part in chunks:
        if part.num_rows:
            if part.num_columns != len(columns):
                raise ValueError(f"{where}: rows of {part.num_columns} columns for a file "
                                 f"of {len(columns)} ({', '.join(columns)})")
            _write_lines(out, where, csv_lines(list(part.columns), part.num_rows, cells_of))


def _batch(name: str, rows: Rows, outs: dict[Path, BinaryIO]) -> None:
    """A batch's JSON lines, and its flat import CSV (exact cells) from the same rows."""
    (lines_path, lines), *flat = outs.items()
    if flat:
        _write_lines(flat[0][1], flat[0][0].name, csv_header(rows.columns))
    key = RECORD_KEYS.get(name)
    for part in (whole_records(rows.chunks, key) if key else rows.chunks):
        if part.num_rows:
            _write_lines(lines, lines_path.name, TEXTS[name](part))
            if flat:
                _write_lines(flat[0][1], flat[0][0].name,
                             csv_lines(list(part.columns), part.num_rows, import_cells))


def whole_records(chunks: Iterable[pa.Table], key: str) -> Iterator[pa.Table]:
    """The chunks, each ending where a record (a run of equal ``key``) ends: a chunk's last
    record is held back and handed on at the head of the next chunk."""
    carry: pa.Table | None = None
    for part in chunks:
        if part.num_rows == 0:
            continue
        table = part if carry is None else pa.concat_tables([carry, part],
                                                             promote_options="permissive")
        cut = _last_record_start(table.column(key))
        if cut:
            yield table.slice(0, cut)
        carry = table.slice(cut)
    if carry is not None and carry.num_rows:
        yield carry


def _last_record_start(keys: pa.ChunkedArray) -> int:
    """Where the run of keys equal to the last one (nulls equal each other) starts."""
    last = keys[len(keys) - 1]
    same = pc.is_null(keys) if not last.is_valid else pc.fill_null(pc.equal(keys, last), False)
    other = np.flatnonzero(~same.to_numpy(zero_copy_only=False))
    return int(other[-1]) + 1 if len(other) else 0


def _write_lines(out: BinaryIO, where: str, lines: pa.Array) -> None:
    """Write each string of ``lines`` followed by ``\\n``, as one buffer."""
    if lines.null_count:
        row = int(np.flatnonzero(pc.is_null(lines).to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"{where}: line {row + 1} of a chunk has no text; every row must be "
                         "encoded (a bug in the encoder that made these lines)")
    if len(lines):
        whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()),
                                                        lines), "\n")[0]
        out.write(whole.as_buffer())
        out.write(b"\n")


def copy_run_folder(source: Path, folder: str | Path) -> Path:
    """Copy the run-folder files of ``source`` into ``folder``, summary.json last."""
    from recon.runfolder import RUN_FOLDER_FILES
    folder = private_dir(folder)
    if folder.resolve() == source.resolve():
        return folder
    (folder / SUMMARY_FILE).unlink(missing_ok=True)
    private_dir(folder / BATCHES_DIR)
    for name in (*(n for n in RUN_FOLDER_FILES if n != SUMMARY_FILE), SUMMARY_FILE):
        with atomic_path(folder / name) as temp:
            shutil.copyfile(source / name, temp)
    return private_tree(folder)


def write_texts(lines: pa.Array, path: str | Path) -> Path:
    """Write encoded JSON lines (NDJSON/JSONL), UTF-8, atomically; no lines: an empty file."""
    with _Files(Path(path)) as (out,):
        _write_lines(out, Path(path).name, lines)
    return Path(path)


def write_frame_csv(frame: pd.DataFrame, path: str | Path, *, people: bool = True,
                    chunk: int = CHUNK) -> Path:
    """Write ``frame`` as a CSV for people (``safe_cells``) or a system import (exact)."""
    rows = frame_source(frame)(chunk)
    with _Files(Path(path)) as (out,):
        _csv(out, Path(path).name, rows.columns, rows.chunks,
             safe_cells if people else import_cells)
    return Path(path)
