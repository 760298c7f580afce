"""Fast readers for CSV, JSON and JSON-lines files that fail with the exact line and the fix.

The fast path is pyarrow's multi-threaded readers. When one of them refuses a file, the file is
scanned again line by line in Python to find and name the first bad line, so speed never costs
the precision of an error. CSV values stay text; empty cells become NA.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from recon.errors import ConfigError, InputError
from recon.normalize import STRING

BOM = b"\xef\xbb\xbf"
UTF8_FIX = "Re-save the file as UTF-8 (e.g. Excel: Save As > CSV UTF-8) and try again"
JSON_LINE_FIX = "Fix or remove that line; each line must hold one JSON object"
LineOf = Callable[[int], int]
BLOCK = 1 << 24  # bytes per read and per pyarrow parse block
STREAM_BLOCK = 1 << 22  # bytes per block of the streaming JSON reader: memory vs. overhead
NEWLINE, QUOTE = ord("\n"), ord('"')
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def file_format(path: str | Path, format: str | None, known: Iterable[str], side: str) -> str:
    """The reader key for ``path``: ``format`` when given, else the file's extension."""
    valid = ", ".join(known)
    if format is not None:
        if format.lower() not in known:
            raise ConfigError(f"unknown {side} file format {format!r}; valid: {valid}.")
        return format.lower()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in known:
        raise InputError(f"cannot tell the format from the extension {suffix!r}",
                         file=str(path), fix=f"Pass format= one of {valid}")
    return suffix


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes without a leading UTF-8 BOM; a missing or empty file raises."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    data = data.removeprefix(BOM)
    if not data or data.isspace():
        raise _empty(path)
    return data


def check_file(path: str | Path) -> None:
    """Raise as ``read_bytes`` would for a missing, empty or blank file, reading only its start.

    Lets pyarrow read large files from disk itself rather than from a copy in Python bytes.
    """
    try:
        with open(path, "rb") as file:
            block = file.read(1 << 16).removeprefix(BOM)
            while block.isspace():
                block = file.read(BLOCK)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if not block:
        raise _empty(path)


def is_blank(path: str | Path) -> bool:
    """Whether ``path`` holds nothing but whitespace and a BOM (False when it cannot be read)."""
    try:
        with open(path, "rb") as file:
            block = file.read(1 << 16).removeprefix(BOM)
            while block.isspace():
                block = file.read(BLOCK)
    except OSError:
        return False
    return not block


def _unreadable(path: str | Path, exc: OSError) -> InputError:
    return InputError(f"cannot open the file ({exc.strerror})", file=str(path),
                      fix="Check the path and that the file is readable")


def _empty(path: str | Path) -> InputError:
    return InputError("the file is empty", file=str(path),
                      fix="Export the records again; the file has no content")


def line_count(path: str | Path) -> int:
    """``data.rstrip(b"\\r\\n").count(b"\\n") + 1`` for the file's bytes, reading it in blocks."""
    return scan_lines(path)[0]


def scan_lines(path: str | Path) -> tuple[int, bool]:
    """``line_count``, and whether the file holds a double quote, in one pass over it."""
    newlines = trailing = 0  # trailing: newlines in the run of CR/LF that ends the file so far
    quoted = False
    buffer = bytearray(BLOCK)
    with open(path, "rb", buffering=0) as file:
        while size := file.readinto(buffer):
            block = np.frombuffer(buffer, np.uint8, size)
            count = int(np.count_nonzero(block == NEWLINE))
            newlines += count
            quoted = quoted or bool(np.any(block == QUOTE))
            body = _body_length(block)
            trailing = trailing + count if body == 0 else int(
                np.count_nonzero(block[body:] == NEWLINE))
    return newlines - trailing + 1, quoted


def _body_length(block: np.ndarray) -> int:
    """The length of ``block`` without the CR and LF bytes that end it."""
    tail = max(0, len(block) - 256)
    body = len(bytes(block[tail:]).rstrip(b"\r\n"))
    return tail + body if body else len(bytes(block).rstrip(b"\r\n"))


def utf8_error(data: bytes, path: str | Path, exc: UnicodeDecodeError) -> InputError:
    """An ``InputError`` naming the line of the first byte that is not UTF-8."""
    line = data.count(b"\n", 0, exc.start) + 1
    return InputError(f"byte 0x{data[exc.start]:02x} is not valid UTF-8", file=str(path),
                      line=line, fix=UTF8_FIX)


def read_csv(path: str | Path) -> tuple[pd.DataFrame, LineOf]:
    """A CSV file as text columns (NA for empty cells), and each record's line number."""
    check_file(path)
    header = _csv_header(path)
    names = [h.strip() for h in header]
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        raise InputError(f"duplicate column names {dupes}", file=str(path), line=1,
                         fix="Rename or remove the repeated columns so each name appears once")
    # Without a quote no value can hold a newline, and pyarrow may split the file anywhere.
    lines, quoted = scan_lines(path)
    try:  # pyarrow reads the file itself; empty cells, quoted or not, arrive as nulls
        table = pa_csv.read_csv(
            str(path), read_options=pa_csv.ReadOptions(block_size=BLOCK),
            parse_options=pa_csv.ParseOptions(newlines_in_values=quoted),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa.string() for h in header}, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        _diagnose_csv(read_bytes(path), path, len(header))
        raise InputError(f"cannot read the CSV ({exc})", file=str(path),
                         fix="Check the quoting and separators") from exc
    frame = pd.DataFrame({name: pd.Series(pd.arrays.ArrowExtensionArray(table.column(i)),
                                          dtype=STRING) for i, name in enumerate(names)})
    return frame, _csv_lines(path, len(frame), lines)


def _csv_header(path: str | Path) -> list[str]:
    with open(path, "rb") as file:
        first = file.readline().removeprefix(BOM).removesuffix(b"\n")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise utf8_error(first, path, exc) from exc
    return next(csv.reader([text.rstrip("\r")]), [])


def _diagnose_csv(data: bytes, path: str | Path, width: int) -> None:
    """Scan a CSV that pyarrow refused and raise an ``InputError`` for its first bad line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise utf8_error(data, path, exc) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for record in reader:
        if record and len(record) != width:
            raise InputError(f"the row has {len(record)} fields but the header has {width}",
                             file=str(path), line=start,
                             fix="Quote values that contain commas, or remove the extra "
                                 "or missing separators")
        start = reader.line_num + 1


def _csv_lines(path: str | Path, rows: int, lines: int) -> LineOf:
    """Record ``i`` starts on line ``i + 2`` unless a quoted value spans lines; then scan."""
    if lines - 1 == rows:
        return lambda i: i + 2

    def scan(i: int) -> int:  # only an error message needs it: read the file again then
        reader = csv.reader(io.StringIO(read_bytes(path).decode("utf-8"), newline=""))
        next(reader)
        start = reader.line_num + 1
        k = 0
        for record in reader:
            if record:
                if k == i:
                    return start
                k += 1
            start = reader.line_num + 1
        return start
    return scan


def read_json_lines(path: str | Path) -> tuple[pd.DataFrame, LineOf]:
    """JSON-lines objects, nested objects flattened to dotted columns, and each line number."""
    check_file(path)
    table = _json_table(path)
    if table is not None and table.num_rows == line_count(path):
        return table_to_frame(table), lambda i: i + 1  # no blank lines: record i is line i + 1
    data = read_bytes(path)
    lines = _object_lines(data)
    if table is None or table.num_rows != len(lines):
        records, numbers = scan_json_lines(data, path)
        return pd.json_normalize(records, sep="."), lambda i: numbers[i]
    return table_to_frame(table), lambda i: int(lines[i])


def _json_table(path: str | Path) -> pa.Table | None:
    """The file as an arrow table, or ``None`` when pyarrow refuses it.

    pyarrow's reader turns text that looks like a date or time (a given name "2024-01-05")
    into a timestamp, which would come back as other text ("2024-01-05 00:00:00"); JSON has no
    such type, so a file where that happened is read again with those fields as text.
    """
    table = _arrow_json(path, None)
    if table is None:
        return None
    as_text = pa.schema([_times_as_text(field) for field in table.schema])
    if not as_text.equals(table.schema):
        table = _arrow_json(path, as_text)
    if table is None:
        return None
    try:
        table.validate(full=True)  # pyarrow lets invalid UTF-8 through; this catches it
    except ARROW_ERRORS:
        return None
    return table


def _arrow_json(path: str | Path, schema: pa.Schema | None) -> pa.Table | None:
    """Streaming small blocks keeps memory near the table's own size (reading the whole file at
    once holds about the file's size again). The stream takes its schema from the first block
    (or ``schema``); when later records bring new fields or types, the file is read whole."""
    parse = pa_json.ParseOptions(explicit_schema=schema)
    try:
        options = pa_json.ReadOptions(block_size=STREAM_BLOCK)
        return pa_json.open_json(str(path), read_options=options, parse_options=parse).read_all()
    except ARROW_ERRORS:
        try:
            return pa_json.read_json(str(path), read_options=pa_json.ReadOptions(block_size=BLOCK),
                                     parse_options=parse)
        except ARROW_ERRORS:
            return None


def _times_as_text(field: pa.Field) -> pa.Field:
    """``field`` with every date or time type inside it (pyarrow's guess) made text again."""
    kind = field.type
    if pa.types.is_temporal(kind):
        return field.with_type(pa.string())
    if pa.types.is_struct(kind):
        return field.with_type(pa.struct([_times_as_text(kind.field(i))
                                          for i in range(kind.num_fields)]))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        item = _times_as_text(kind.value_field)
        return field.with_type(pa.list_(item) if pa.types.is_list(kind) else pa.large_list(item))
    return field


def _object_lines(data: bytes) -> np.ndarray:
    """The 1-based numbers of the non-blank lines of a JSON-lines file."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(buf)]))
    length = stops - starts
    has_cr = (length > 0) & (buf[np.maximum(stops - 1, 0)] == 13) if len(buf) else length > 0
    length = length - has_cr
    return np.flatnonzero(length > 0) + 1


def scan_json_lines(data: bytes, path: str | Path) -> tuple[list[dict], list[int]]:
    """Parse JSON lines one by one in Python; the first bad line raises ``InputError``."""
    records: list[dict] = []
    numbers: list[int] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(f"byte 0x{raw[exc.start]:02x} is not valid UTF-8", file=str(path),
                             line=number, fix=UTF8_FIX) from exc
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg} at character {exc.colno})",
                             file=str(path), line=number, fix=JSON_LINE_FIX) from exc
        if not isinstance(value, dict):
            raise InputError(f"the line holds a JSON {_json_kind(value)}, not an object",
                             file=str(path), line=number, fix=JSON_LINE_FIX)
        records.append(value)
        numbers.append(number)
    return records, numbers


def read_json_document(path: str | Path, envelope: str = "value") -> list[dict]:
    """The objects of a JSON array, or of ``{"<envelope>": [...]}`` (a Web API page)."""
    data = read_bytes(path)
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise utf8_error(data, path, exc) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at character {exc.colno})", file=str(path),
                         line=exc.lineno, fix="Fix the JSON syntax, or export the file again"
                         ) from exc
    if isinstance(document, dict) and isinstance(document.get(envelope), list):
        document = document[envelope]
    if not isinstance(document, list):
        raise InputError(f"the file holds a JSON {_json_kind(document)}, not an array of "
                         "records", file=str(path),
                         fix=f'Save the records as a JSON array or as {{"{envelope}": [...]}}')
    for position, value in enumerate(document, start=1):
        if not isinstance(value, dict):
            raise InputError(f"item is a JSON {_json_kind(value)}, not an object",
                             file=str(path), record=f"#{position}",
                             fix="Each item of the array must be one record object")
    return document


def _json_kind(value: object) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number",
             dict: "object"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """An arrow table as a frame: struct columns spread to dotted names, strings arrow-backed."""
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table.to_pandas(types_mapper={pa.string(): STRING}.get)
