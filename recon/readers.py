"""Fast readers for CSV, JSON and JSON-lines files that fail with the exact line and the fix.

The fast path is pyarrow's multi-threaded readers. When one of them refuses a file, the file is
scanned again line by line in Python to find and name the first bad line, so speed never costs
the precision of an error. CSV values stay text; empty cells become NA.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from recon.errors import InputError
from recon.normalize import STRING

BOM = b"\xef\xbb\xbf"
UTF8_FIX = "Re-save the file as UTF-8 (e.g. Excel: Save As > CSV UTF-8) and try again"
JSON_LINE_FIX = "Fix or remove that line; each line must hold one JSON object"
LineOf = Callable[[int], int]


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes without a leading UTF-8 BOM; a missing or empty file raises."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot open the file ({exc.strerror})", file=str(path),
                         fix="Check the path and that the file is readable") from exc
    data = data.removeprefix(BOM)
    if not data or data.isspace():
        raise InputError("the file is empty", file=str(path),
                         fix="Export the records again; the file has no content")
    return data


def utf8_error(data: bytes, path: str | Path, exc: UnicodeDecodeError) -> InputError:
    """An ``InputError`` naming the line of the first byte that is not UTF-8."""
    line = data.count(b"\n", 0, exc.start) + 1
    return InputError(f"byte 0x{data[exc.start]:02x} is not valid UTF-8", file=str(path),
                      line=line, fix=UTF8_FIX)


def read_csv(path: str | Path) -> tuple[pd.DataFrame, LineOf]:
    """A CSV file as text columns (NA for empty cells), and each record's line number."""
    data = read_bytes(path)
    header = _csv_header(data, path)
    names = [h.strip() for h in header]
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        raise InputError(f"duplicate column names {dupes}", file=str(path), line=1,
                         fix="Rename or remove the repeated columns so each name appears once")
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        _diagnose_csv(data, path, len(header))
        raise InputError(f"cannot read the CSV ({exc})", file=str(path),
                         fix="Check the quoting and separators") from exc
    frame = pd.DataFrame({name.strip(): _blank_to_na(table.column(i))
                          for i, name in enumerate(header)})
    return frame, _csv_lines(data, len(frame))


def _csv_header(data: bytes, path: str | Path) -> list[str]:
    first = data.split(b"\n", 1)[0]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise utf8_error(data, path, exc) from exc
    return next(csv.reader([text.rstrip("\r")]), [])


def _blank_to_na(values: pa.ChunkedArray) -> pd.Series:
    blank = pc.equal(values, "")
    arr = pc.if_else(blank, pa.scalar(None, pa.string()), values)
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), dtype=STRING)


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


def _csv_lines(data: bytes, rows: int) -> LineOf:
    """Record ``i`` starts on line ``i + 2`` unless a quoted value spans lines; then scan."""
    if data.rstrip(b"\r\n").count(b"\n") == rows:
        return lambda i: i + 2

    def scan(i: int) -> int:
        reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
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
    data = read_bytes(path)
    try:
        table = pa_json.read_json(pa.BufferReader(data),
                                  read_options=pa_json.ReadOptions(block_size=1 << 24))
        table.validate(full=True)  # pyarrow lets invalid UTF-8 through; this catches it
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        table = None
    if table is not None and table.num_rows == data.rstrip(b"\r\n").count(b"\n") + 1:
        return table_to_frame(table), lambda i: i + 1  # no blank lines: record i is line i + 1
    lines = _object_lines(data)
    if table is None or table.num_rows != len(lines):
        records, numbers = scan_json_lines(data, path)
        return pd.json_normalize(records, sep="."), lambda i: numbers[i]
    return table_to_frame(table), lambda i: int(lines[i])


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
