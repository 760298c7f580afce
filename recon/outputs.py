"""The cells of the run folder's CSVs (DESIGN §7; the writer is ``recon.runwriter``).

Every CSV is UTF-8, writes an empty cell for a missing value (never ``null``/``NaN``/``n/a``),
no exponent numbers, ``\\n`` line ends, rows sorted so runs diff cleanly; line breaks inside a
cell are written as ``\n`` in a quoted cell. Two kinds of CSV differ in one rule:

- **people files** (matches, duplicates, drift, review, problems; ``safe_cells``) are opened in
  spreadsheets: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
  neutralised against formula injection by a leading single quote (``'=cmd``, OWASP's advice),
  and so is a cell of digits a spreadsheet would turn into a number and lose (12 or more
  digits, or a leading zero): phones such as ``'+15125550100`` or ``'004930123456`` open as
  text, never as ``1.51256E+10``. The quote is visible; it is what keeps the value whole.
- **import files** (``batches/migrate_to_strivacity.csv``; ``import_cells``) are read by a
  system: cells are exact, never quoted-prefixed (``-Smith`` stays ``-Smith``), and follow
  Strivacity's import-validator rules, so the whitespace at a cell's edges, which the
  validator rejects next to a comma, is left out.

A run folder holds millions of lines, so nothing here loops over rows: cells and CSV lines are
built column-wise with pyarrow over one chunk of rows (``csv_lines``), quoted exactly as
Python's csv module quotes (what pandas' ``to_csv`` wrote before).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.lines import contains_any, utf8_view

_NEEDS_QUOTES = r'[,"\n]'
_FORMULA_BYTES = np.zeros(256, bool)  # lookup table: is a cell's first byte a formula's?
_FORMULA_BYTES[np.frombuffer(b"=+-@\t\r", np.uint8)] = True
#: Digits a spreadsheet reads as a number and alters: a leading zero, or 12 digits or more.
_LOSSY_NUMBER = r"^(0[0-9]+|[0-9]{12,})$"
#: Whitespace at a cell's edges, which the import validator rejects beside a comma.
_EDGE_SPACE = r"^[\s\x{00a0}\x{feff}]+|[\s\x{00a0}\x{feff}]+$"
#: A column of one chunk: what the cell encoders take.
Column: TypeAlias = pa.Array | pa.ChunkedArray
Cells: TypeAlias = Callable[[Column], pa.Array]


def _text(values: Column) -> pa.Array:
    """One column as strings: booleans true/false, times ISO 8601 UTC, numbers positional."""
    values = _plain(values)
    kind = values.type
    if pa.types.is_dictionary(kind):
        return _text(values.dictionary_decode())
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_timestamp(kind):
        utc = values.cast(pa.timestamp(kind.unit, "UTC")) if kind.tz else values
        seconds = utc.cast(pa.timestamp("s", utc.type.tz), safe=False)
        return pc.strftime(seconds, "%Y-%m-%dT%H:%M:%SZ")
    if pa.types.is_floating(kind):
        plain = [None if v is None else np.format_float_positional(v, trim="-")
                 for v in values.to_pylist()]
        return pa.array(plain, type=pa.string())
    return values if kind == pa.string() else values.cast(pa.string())


def safe_cells(values: Column) -> pa.Array:
    """A column as cells for people: blanks empty, edges trimmed, formulas and numbers a
    spreadsheet would alter neutralised by a leading ``'``.

    Each rule first looks at the raw bytes (first/last bytes of the cells, or the whole
    buffer) and runs its string kernel only when some cell needs it.
    """
    text = _plain(pc.fill_null(_text(values), ""))
    if np.any(_edge_bytes(text, first=True) == 0x20) or np.any(_edge_bytes(text) == 0x20):
        text = _plain(pc.utf8_trim(text, " "))
    first = _edge_bytes(text, first=True)
    risky = _FORMULA_BYTES[first]
    digits = (first >= 0x30) & (first <= 0x39)
    if risky.any() or digits.any():
        lossy = pc.fill_null(pc.match_substring_regex(text, _LOSSY_NUMBER), False)
        quote = pc.or_(pa.array(risky), pc.and_(pa.array(digits), lossy))
        text = _plain(pc.if_else(quote, pc.binary_join_element_wise("'", text, ""), text))
    return _line_breaks(text)


def read_people_cells(values: pd.Series) -> pd.Series:
    """``safe_cells`` undone for display: the ``'`` it added before a formula character or a
    number a spreadsheet would alter is dropped (a value that itself began with ``'`` and one of
    those shows without it: a people file is for reading, the batches hold the exact values)."""
    text = values.astype("string")
    quoted = text.str.startswith("'").fillna(False).astype(bool)
    if not quoted.any():
        return values
    rest = text.str.slice(1)
    formula = rest.str.slice(0, 1).isin(list("=+-@\t\r")).fillna(False).astype(bool)
    lossy = rest.str.fullmatch(_LOSSY_NUMBER).fillna(False).astype(bool)
    added = quoted & (formula | lossy)
    return text.mask(added, rest)


def import_cells(values: Column) -> pa.Array:
    """A column as cells for a system import: exact values, blanks empty, edge whitespace
    (which Strivacity's import validator rejects) left out; never a quote prefix."""
    text = _plain(pc.fill_null(_text(values), ""))
    if len(text) and (_any_space(_edge_bytes(text, first=True)) or _any_space(_edge_bytes(text))):
        text = _plain(pc.replace_substring_regex(text, _EDGE_SPACE, ""))
    return _line_breaks(text)


def _any_space(edge: np.ndarray) -> bool:
    """True when some cell may start or end with whitespace (ASCII, or a multi-byte one)."""
    return bool(np.any((edge <= 0x20) & (edge > 0)) or np.any(edge >= 0x80))


def _line_breaks(text: pa.Array) -> pa.Array:
    if contains_any(text, b"\r"):
        # Line breaks inside a cell become \n, which the writer quotes (a bare \r it would not).
        text = _plain(pc.replace_substring_regex(text, r"\r\n?", "\n"))
    return text


def _plain(values: Column) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _edge_bytes(text: pa.Array, first: bool = False) -> np.ndarray:
    """Each cell's last (or first) UTF-8 byte; 0 for an empty cell."""
    offsets, data = utf8_view(text)
    if len(data) == 0:
        return np.zeros(len(text), np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    at = np.minimum(starts if first else ends - 1, len(data) - 1).clip(0)
    return np.where(ends > starts, data[at], 0)


def _quoted(cells: pa.Array) -> pa.Array:
    """Cells quoted as Python's csv module does (minimal quoting, ``\\n`` line ends)."""
    if not contains_any(cells, b',"\n'):
        return cells
    needs = pc.match_substring_regex(cells, _NEEDS_QUOTES)
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(cells, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, cells)


def csv_lines(columns: list[Column], rows: int, cells_of: Cells) -> pa.Array:
    """Each row's cells (``safe_cells`` or ``import_cells``), quoted and joined by commas; a
    lone empty cell is ``""`` as csv writes it."""
    if not columns:
        return pa.array([""] * rows, pa.string())
    quoted = [_plain(_quoted(cells_of(column))) for column in columns]
    if len(quoted) == 1:
        return _plain(pc.if_else(pc.equal(quoted[0], ""), '""', quoted[0]))
    return _plain(pc.binary_join_element_wise(*quoted, ","))


def csv_header(names: tuple[str, ...] | list[str]) -> pa.Array:
    """The header line of a CSV with these column names (quoted as a row is)."""
    return csv_lines([pa.array([name], pa.string()) for name in names], 1, lambda c: _plain(c))


def safe_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as a CSV for people: spreadsheet-safe (see the module docstring)."""
    from recon.runwriter import write_frame_csv
    return write_frame_csv(frame, path, people=True)


def import_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as a CSV for a system import: exact values (see the module docstring)."""
    from recon.runwriter import write_frame_csv
    return write_frame_csv(frame, path, people=False)
