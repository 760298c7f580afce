"""Dynamics contact files (CSV, Parquet, JSON, JSON lines, Excel) into the canonical frame.

Every reader returns raw rows keyed by Dataverse logical names; ``to_canonical`` does the rest,
so a file and a Web API pull give the same frame. Excel files are those written by Dynamics'
"Export to Excel": display-name headers plus the hidden "(Do Not Modify)" columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recon.dynamics.frame import to_canonical
from recon.errors import InputError
from recon.fields import DEFAULT_FIELDS, FieldMap
from recon.normalize import STRING
from recon.readers import (
    LineOf,
    file_format,
    read_bytes,
    read_csv,
    read_json_document,
    read_json_lines,
    table_to_frame,
)

#: Display names of contact columns in "Export to Excel" workbooks, lower-cased.
DISPLAY_NAMES = {
    "(do not modify) contact": "contactid",
    "(do not modify) row checksum": "rowchecksum",
    "(do not modify) modified on": "modifiedon",
    "email": "emailaddress1",
    "email address 2": "emailaddress2",
    "email address 3": "emailaddress3",
    "first name": "firstname",
    "middle name": "middlename",
    "last name": "lastname",
    "full name": "fullname",
    "mobile phone": "mobilephone",
    "business phone": "telephone1",
    "address 1: street 1": "address1_line1",
    "address 1: city": "address1_city",
    "address 1: state/province": "address1_stateorprovince",
    "address 1: zip/postal code": "address1_postalcode",
    "address 1: country/region": "address1_country",
    "status": "statecode",
    "status reason": "statuscode",
    "created on": "createdon",
    "modified on": "modifiedon",
    "version number": "versionnumber",
}
#: The visible "Modified On" is in the exporting user's time zone; the hidden one is kept.
LOCAL_MODIFIED = "modifiedon_local"


@dataclass(frozen=True)
class Rows:
    """Raw rows read from a file, and how to name a row's line in errors."""

    frame: pd.DataFrame
    line_of: LineOf | None = None
    header_line: int | None = None


def read_dynamics(path: str | Path, format: str | None = None,
                  fields: FieldMap = DEFAULT_FIELDS) -> pd.DataFrame:
    """Read a Dynamics contact file into the canonical frame (DESIGN §3).

    ``format`` is one of ``READERS`` (csv, parquet, json, jsonl, ndjson, xlsx); by default it
    follows the file extension. Bad input raises ``InputError`` naming the file, line and column.
    """
    reader = READERS[file_format(path, format, READERS, "Dynamics")]
    rows = reader(path)
    if rows.frame.empty and not len(rows.frame.columns):  # a JSON []: no records, no columns
        return empty_dynamics(fields, str(path))
    return to_canonical(rows.frame, fields, str(path), line_of=rows.line_of,
                        header_line=rows.header_line)


def empty_dynamics(fields: FieldMap = DEFAULT_FIELDS, source: str = "<empty>") -> pd.DataFrame:
    """The canonical frame of zero contacts."""
    columns = dict.fromkeys(("contactid", fields["email"].dynamics))
    return to_canonical(pd.DataFrame({c: pd.Series([], dtype=STRING) for c in columns}),
                        fields, source)


def _read_csv(path: str | Path) -> Rows:
    """Logical-name CSV, or an Excel export saved as CSV (display names, hidden id column)."""
    frame, line_of = read_csv(path)
    if "contactid" not in frame.columns and any(
            str(c).lower() == "(do not modify) contact" for c in frame.columns):
        frame = frame.set_axis(_logical_names([str(c) for c in frame.columns], path), axis=1)
    return Rows(frame, line_of, header_line=1)


def _read_jsonl(path: str | Path) -> Rows:
    frame, line_of = read_json_lines(path)
    return Rows(frame, line_of)


def _read_json(path: str | Path) -> Rows:
    return Rows(pd.DataFrame.from_records(read_json_document(path)))


def _read_parquet(path: str | Path) -> Rows:
    read_bytes(path)  # a missing or empty file gets the usual message
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", file=str(path),
                         fix="Write the file again with pandas.DataFrame.to_parquet") from exc
    return Rows(table_to_frame(table))


def _read_xlsx(path: str | Path) -> Rows:
    """The first sheet of an "Export to Excel" workbook, headers turned into logical names."""
    from openpyxl import load_workbook  # imported here: only Excel users pay for it

    read_bytes(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors
        raise InputError(f"not a readable Excel workbook ({exc})", file=str(path),
                         fix="Open it in Excel and save it again as .xlsx") from exc
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        raise InputError("the first sheet is empty", file=str(path),
                         fix="Export the contacts again with Export to Excel")
    header = _logical_names([("" if h is None else str(h).strip()) or f"column{n}"
                             for n, h in enumerate(rows[0], start=1)], path)
    body = [(number, row) for number, row in enumerate(rows[1:], start=2)
            if any(v not in (None, "") for v in row)]
    values = [[None if v == "" else v for v in row[:len(header)]] for _, row in body]
    frame = pd.DataFrame(values, columns=header, dtype=object)
    numbers = [number for number, _ in body]
    return Rows(frame, lambda i: numbers[i], header_line=1)


def _logical_names(header: list[str], path: str | Path) -> list[str]:
    """Map display names to logical names; unknown headers stay as they are."""
    while header and header[-1] == f"column{len(header)}":
        header = header[:-1]
    lowered = [h.lower() for h in header]
    names = []
    for h, low in zip(header, lowered, strict=True):
        name = DISPLAY_NAMES.get(low, h)
        if low == "modified on" and "(do not modify) modified on" in lowered:
            name = LOCAL_MODIFIED
        names.append(name)
    if "contactid" not in names:
        raise InputError("no contact id column ('(Do Not Modify) Contact' or 'contactid')",
                         file=str(path), line=1,
                         fix="Use Dynamics' Export to Excel, which adds the hidden "
                             "'(Do Not Modify) Contact' column, and keep that column")
    return names


READERS: dict[str, Callable[[str | Path], Rows]] = {
    "csv": _read_csv,
    "parquet": _read_parquet,
    "json": _read_json,
    "jsonl": _read_jsonl,
    "ndjson": _read_jsonl,
    "xlsx": _read_xlsx,
}
