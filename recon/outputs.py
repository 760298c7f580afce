"""The run folder (DESIGN §7): summary.json, four CSVs and five batch files.

CSVs are written for people with spreadsheets and for Strivacity's import validator: UTF-8,
an empty cell for a missing value (never ``null``/``NaN``/``n/a``), no padding around commas,
no exponent numbers, ``\\n`` line ends, rows sorted so runs diff cleanly. A cell starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is neutralised against spreadsheet
formula injection by a leading single quote (``'=cmd`` shows as text, OWASP's advice); a cell
that is exactly an E.164 phone number (``+14155550100``) is kept as it is, since digits
cannot form a formula and importers need the number verbatim. Line breaks inside a cell are
written as ``\n`` in a quoted cell.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.lines import LINES, Line

if TYPE_CHECKING:
    from recon.engine import Reconciliation

#: Run-folder CSV -> (attribute of the result, columns in order).
TABLES = {
    "matches.csv": ("matches", ("match_type", "email_key", "contactid", "strivacity_id")),
    "duplicates.csv": ("duplicates", ("side", "email_key", "record_id", "group_size",
                                      "suggested_survivor")),
    "drift.csv": ("drift", ("contactid", "strivacity_id", "email_key", "field",
                            "dynamics_value", "strivacity_value", "action")),
    "review.csv": ("review", ("side", "record_id", "email_key", "reason")),
}
#: Batch file under batches/ -> batch name.
BATCH_FILES = {
    "migrate_to_strivacity.ndjson": "migrate_to_strivacity",
    "create_in_dynamics.jsonl": "create_in_dynamics",
    "update_dynamics.jsonl": "update_dynamics",
    "update_strivacity.ndjson": "update_strivacity",
}
MIGRATE_CSV = "migrate_to_strivacity.csv"
# One encoder for every line: json.dumps with options builds a new encoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_FORMULA = r"^[=+\-@\t\r]"
_E164 = r"^\+[1-9][0-9]{6,14}$"


def _text(values: pd.Series) -> pa.Array:
    """One column as strings: booleans true/false, times ISO 8601 UTC, numbers positional."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return pc.cast(pa.array(values.array, type=pa.bool_()), pa.string())
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        stamps = values.dt.tz_convert("UTC") if values.dt.tz else values
        return pa.array(stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").array, type=pa.string())
    if pd.api.types.is_float_dtype(values.dtype):
        plain = [None if pd.isna(v) else np.format_float_positional(v, trim="-") for v in values]
        return pa.array(plain, type=pa.string())
    if pd.api.types.is_integer_dtype(values.dtype):
        return pc.cast(pa.array(values.array), pa.string())
    return pa.array(values.astype(object).where(values.notna(), None).array, type=pa.string()) \
        if values.dtype == object else pa.array(values.array, type=pa.string())


def safe_cells(values: pd.Series) -> pa.Array:
    """A column as CSV-safe text: blanks empty, edges trimmed, formulas neutralised."""
    text = pc.fill_null(_text(values), "")
    text = pc.utf8_trim(text, " ")
    risky = pc.and_(pc.match_substring_regex(text, _FORMULA),
                    pc.invert(pc.match_substring_regex(text, _E164)))
    text = pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)
    # Line breaks inside a cell become \n, which the writer quotes (a bare \r it would not).
    return pc.replace_substring_regex(text, r"\r\n?", "\n")


def safe_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as a spreadsheet- and importer-safe CSV (see the module docstring)."""
    path = Path(path)
    safe = pd.DataFrame({name: pd.arrays.ArrowExtensionArray(safe_cells(frame[name]))
                         for name in frame.columns}, columns=frame.columns)
    safe.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


def write_lines(lines: Iterable[Line], path: str | Path) -> Path:
    """Write JSON objects one per line (NDJSON/JSONL), UTF-8; no lines gives an empty file."""
    path = Path(path)
    encode = _JSON.encode
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.writelines(encode(line) + "\n" for line in lines)
    return path


def write_run(result: Reconciliation, folder: str | Path) -> Path:
    """Write the run folder into ``folder`` (created if needed); returns its path."""
    folder = Path(folder)
    (folder / "batches").mkdir(parents=True, exist_ok=True)
    for name, (attribute, columns) in TABLES.items():
        safe_csv(getattr(result, attribute)[list(columns)], folder / name)
    for file, batch in BATCH_FILES.items():
        write_lines(LINES[batch](result.batch(batch)), folder / "batches" / file)
    safe_csv(result.batch("migrate_to_strivacity"), folder / "batches" / MIGRATE_CSV)
    text = json.dumps(result.summary, indent=2, ensure_ascii=False) + "\n"
    (folder / "summary.json").write_text(text, encoding="utf-8")
    return folder
