"""Dataverse pages as all-text Arrow tables, decoded in C where the page allows it.

Decoding a 5,000-row page with ``json`` and converting its dicts costs the client more CPU than
the request, and Python holds the GIL while doing it, so ``--streams 8`` could not overlap
pages. ``ArrowPages`` parses the body with Arrow's JSON reader (C++, without the GIL) into
the columns asked for; a page it cannot read that way goes through ``json`` and ``PageTables``.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json
import requests

ETAG = "@odata.etag"
LINKS = ("@odata.nextLink", "@odata.deltaLink")
#: Bytes read from a body at a time: the C heap reuses blocks this size from page to page.
PIECE = 1 << 18


@functools.cache
def memory_pool() -> pa.MemoryPool:
    """The Arrow memory that pulled pages and the frame made of them live in.

    Pages are parsed on several threads and most of each parse is freed at once. pyarrow's
    default allocator (mimalloc) keeps what each thread freed for that thread, so the process
    grew by several frames during an 8-stream pull. jemalloc, told to return freed pages
    right away, or else the C library's malloc, follows the rows instead (see the README's pull
    benchmark). Only recon's pages use this pool; other Arrow work keeps the default, unless
    ``ARROW_DEFAULT_MEMORY_POOL=jemalloc`` makes jemalloc everyone's (it then returns pages
    at once for all).
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (Windows, some macOS)
        return pa.system_memory_pool()
    pa.jemalloc_set_decay_ms(0)
    return pool


def rows_to_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> pa.Table:
    """One page of JSON rows as an all-text Arrow table: ``@odata.etag`` then ``columns``."""
    return PageTables(columns)(rows)


class PageTables:
    """Turns each page of JSON rows into an all-text Arrow table, ``@odata.etag`` first.

    Converting rows cost the client as much CPU as decoding the JSON, and with ``--streams``
    that CPU is what limits a pull. Columns that held only text on the previous page are
    converted together in one C call (a struct array); the others column by column.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self.names = (ETAG, *columns)
        self._text: tuple[str, ...] = ()

    def __call__(self, rows: Sequence[dict[str, Any]]) -> pa.Table:
        arrays: dict[str, pa.Array] = {}
        if self._text:
            try:
                struct = pa.array(rows, type=pa.struct([(n, pa.string()) for n in self._text]))
                arrays = dict(zip(self._text, struct.flatten(), strict=True))
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                arrays = {}  # a column changed kind on this page: learn again below
        text = []
        for name in self.names:
            if name not in arrays:
                arrays[name], is_text = _text_array([row.get(name) for row in rows])
                if not is_text:
                    continue
            text.append(name)
        self._text = tuple(text)
        return pa.table({name: arrays[name] for name in self.names})


def _text_array(values: list[Any]) -> tuple[pa.Array, bool]:
    """JSON values as Arrow text, and whether they were all text (or null) already.

    Whole numbers and booleans are cast in C; anything else goes value by value.
    """
    try:
        return pa.array(values, type=pa.string()), True
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    try:
        inferred = pa.array(values)
    except (pa.ArrowTypeError, pa.ArrowInvalid, OverflowError):
        inferred = None
    if inferred is not None and (pa.types.is_integer(inferred.type)
                                 or pa.types.is_boolean(inferred.type)):
        return inferred.cast(pa.string()), False
    return pa.array([_text(v) for v in values], type=pa.string()), False


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


class ArrowPages:
    """Decodes page bodies with Arrow's JSON reader: ``{"value": table, links...}`` or None.

    Columns are declared text so that dates stay as Dataverse wrote them; the ones that came
    as numbers or booleans on the first page are declared as such and cast; fields not
    selected are skipped unread. None means "not this way" (a nested value, a fraction, a
    column that changed kind): the caller decodes with ``json`` instead, and the next page
    learns the columns again. Parallel streams share one
    decoder, so the columns are learnt once (learning parses a page twice), and at most one
    page per core is parsed at a time: more only interleave on the same cores, which holds
    more pages' parse buffers and makes every stream wait for the slowest.
    """

    def __init__(self, columns: Sequence[str]) -> None:
        self.names = (ETAG, *columns)
        self._typed: dict[str, pa.DataType] | None = None  # not sent as text; None: not learnt
        self._lock = threading.Lock()
        self._parsing = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

    def read(self, response: requests.Response) -> pa.Buffer:
        """A page's body, read into ``memory_pool()`` a piece at a time.

        Read whole into Python bytes, bodies landed in the C library's heap, which after the
        first large block is freed keeps such blocks for the thread that freed them: about 40
        MiB more at the peak of an 8-stream pull. The pieces are small enough to be reused.
        """
        sink = pa.BufferOutputStream(memory_pool=memory_pool())
        for piece in response.iter_content(PIECE):  # a short body raises, as urllib3 checks
            sink.write(piece)
        return sink.getvalue()

    def __call__(self, body: bytes | pa.Buffer) -> dict[str, Any] | None:
        try:
            typed = self._typed
            if typed is None:
                with self._lock:
                    typed = self._typed
                    if typed is None:
                        typed = self._typed = self._learn(body)
            with self._parsing:
                table = self._read(body, typed)
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError):
            self._typed = None
            return None
        if table is None:
            self._typed = None
            return None
        page: dict[str, Any] = {link: _scalar(table, link) for link in LINKS}
        page["value"] = self._columns(table)
        return page if page["value"] is not None else None

    def _learn(self, body: bytes | pa.Buffer) -> dict[str, pa.DataType]:
        """The selected columns this body sends as numbers or booleans, with their types."""
        rows = _rows(_parse(body, None))
        kinds = {n: rows.type.field(n).type for n in self.names
                 if rows.type.get_field_index(n) >= 0}
        return {n: kind for n, kind in kinds.items() if _sent_as_value(kind)}

    def _read(self, body: bytes | pa.Buffer, typed: dict[str, pa.DataType]) -> pa.Table | None:
        return _parse(body, pa.struct([(n, typed.get(n, pa.string())) for n in self.names]))

    def _columns(self, table: pa.Table) -> pa.Table | None:
        rows = _rows(table)
        arrays = {}
        for name in self.names:
            if rows.type.get_field_index(name) < 0:
                arrays[name] = pa.nulls(len(rows), pa.string(), memory_pool=memory_pool())
                continue
            column = rows.field(name)
            if pa.types.is_string(column.type):
                arrays[name] = column
            elif pa.types.is_integer(column.type) or pa.types.is_boolean(column.type) or \
                    pa.types.is_null(column.type):
                arrays[name] = column.cast(pa.string(), memory_pool=memory_pool())
            else:
                return None  # fractions and nested values: json's text is the reference
        return pa.table(arrays)


def _parse(body: bytes | pa.Buffer, row: pa.StructType | None) -> pa.Table:
    """One JSON object as a one-row table; ``row`` declares the rows' fields (None: infer).

    Declared, every other field is skipped: inferring them cost 12% of the parse.
    """
    schema = pa.schema([("value", pa.list_(row)), *((link, pa.string()) for link in LINKS)]) \
        if row is not None else None
    options = pa_json.ParseOptions(explicit_schema=schema, newlines_in_values=True,
                                   unexpected_field_behavior="infer" if row is None else "ignore")
    read = pa_json.ReadOptions(use_threads=False, block_size=max(1 << 20, len(body) + 1))
    return pa_json.read_json(pa.BufferReader(body), read_options=read, parse_options=options,
                             memory_pool=memory_pool())


def _rows(table: pa.Table) -> pa.StructArray:
    """The rows of ``value`` as one struct array."""
    if table.num_rows != 1:
        raise KeyError("not one JSON object")
    value = _joined(table.column("value"))
    if not pa.types.is_list(value.type) or not pa.types.is_struct(value.type.value_type):
        raise KeyError("value is not a list of objects")
    return value.flatten()


def _joined(column: pa.ChunkedArray) -> pa.Array:
    """A column as one array, in ``memory_pool()``; a single chunk as it is, without a copy.

    ``ChunkedArray.combine_chunks`` allocates from the default pool whatever it is given.
    """
    if column.num_chunks == 1:
        return column.chunk(0)
    return pa.concat_arrays(column.chunks, memory_pool=memory_pool())


def _sent_as_value(kind: pa.DataType) -> bool:
    """Whether Arrow inferred ``kind`` from a JSON number or boolean (not from a string)."""
    return not (pa.types.is_string(kind) or pa.types.is_null(kind)
                or pa.types.is_timestamp(kind) or pa.types.is_date(kind))


def _scalar(table: pa.Table, name: str) -> Any:
    return table.column(name)[0].as_py() if name in table.column_names else None
