"""The run folder writer (DESIGN §7; names and columns from ``recon.runfolder``): summary.json,
five CSVs for people and five batch files.

Every CSV is UTF-8, writes an empty cell for a missing value (never ``null``/``NaN``/``n/a``),
no exponent numbers, ``\\n`` line ends, rows sorted so runs diff cleanly; line breaks inside a
cell are written as ``\n`` in a quoted cell. Two kinds of CSV differ in one rule:

- **people files** (matches, duplicates, drift, review, problems; ``safe_csv``) are opened in
  spreadsheets: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
  neutralised against formula injection by a leading single quote (``'=cmd``, OWASP's advice),
  and so is a cell of digits a spreadsheet would turn into a number and lose (12 or more
  digits, or a leading zero): phones such as ``'+15125550100`` or ``'004930123456`` open as
  text, never as ``1.51256E+10``. The quote is visible; it is what keeps the value whole.
- **import files** (``batches/migrate_to_strivacity.csv``; ``import_csv``) are read by a
  system: cells are exact, never quoted-prefixed (``-Smith`` stays ``-Smith``), and follow
  Strivacity's import-validator rules, so the whitespace at a cell's edges, which the
  validator rejects next to a comma, is left out.

A run folder holds millions of lines, so nothing here loops over rows: cells and JSON lines
are built column-wise with pyarrow (``recon.engine.lines.TEXTS`` for the batches), quoted
exactly as Python's csv module quotes (what pandas' ``to_csv`` wrote before), and each file
is written in a few large buffers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.lines import TEXTS, contains_any, utf8_view
from recon.parallel import run_all
from recon.private import private_dir, private_tree
from recon.runfolder import BATCHES, BATCHES_DIR, SUMMARY_FILE, TABLES

if TYPE_CHECKING:
    from recon.engine import Reconciliation

_NEEDS_QUOTES = r'[,"\n]'
#: Rows of a CSV encoded at a time: bounds memory and keeps pyarrow's 2 GiB string limit afar.
_CHUNK = 200_000
_FORMULA_BYTES = np.zeros(256, bool)  # lookup table: is a cell's first byte a formula's?
_FORMULA_BYTES[np.frombuffer(b"=+-@\t\r", np.uint8)] = True
#: Digits a spreadsheet reads as a number and alters: a leading zero, or 12 digits or more.
_LOSSY_NUMBER = r"^(0[0-9]+|[0-9]{12,})$"
#: Whitespace at a cell's edges, which the import validator rejects beside a comma.
_EDGE_SPACE = r"^[\s\x{00a0}\x{feff}]+|[\s\x{00a0}\x{feff}]+$"


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


def import_cells(values: pd.Series) -> pa.Array:
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


def _plain(values: pa.Array | pa.ChunkedArray) -> pa.Array:
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


def _csv_rows(cells: list[pa.Array], rows: int) -> pa.Array:
    """Each row's quoted cells joined by commas; a lone empty cell is ``""`` as csv writes it."""
    if not cells:
        return pa.array([""] * rows, pa.string())
    quoted = [_quoted(column) for column in cells]
    if len(quoted) == 1:
        return pc.if_else(pc.equal(quoted[0], ""), '""', quoted[0])
    return pc.binary_join_element_wise(*quoted, ",")


def safe_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as a CSV for people: spreadsheet-safe (see the module docstring)."""
    return _csv(frame, path, safe_cells)


def import_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as a CSV for a system import: exact values (see the module docstring)."""
    return _csv(frame, path, import_cells)


def _csv(frame: pd.DataFrame, path: str | Path, cells_of: Callable[[pd.Series], pa.Array]
         ) -> Path:
    path = Path(path)
    header = pa.array([str(name) for name in frame.columns], pa.string())
    with path.open("wb") as out:
        _write_texts(out, _csv_rows([header.slice(i, 1) for i in range(len(header))], 1))
        for start in range(0, len(frame), _CHUNK):
            part = frame.iloc[start:start + _CHUNK]
            cells = [cells_of(part.iloc[:, i]) for i in range(part.shape[1])]
            _write_texts(out, _csv_rows(cells, len(part)))
    return path


def _write_texts(out: BinaryIO, lines: pa.Array | pa.ChunkedArray) -> None:
    """Write each string of ``lines`` followed by ``\\n``, as one buffer."""
    if lines.null_count:
        row = int(np.flatnonzero(pc.is_null(lines).to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"{out.name}: line {row + 1} has no text; every row must be encoded "
                         "(a bug in the encoder that made these lines)")
    if len(lines):
        lines = _plain(lines)
        whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()),
                                                        lines), "\n")[0]
        out.write(whole.as_buffer())
        out.write(b"\n")


def write_texts(lines: pa.Array, path: str | Path) -> Path:
    """Write encoded JSON lines (NDJSON/JSONL), UTF-8; no lines gives an empty file."""
    path = Path(path)
    with path.open("wb") as out:
        _write_texts(out, lines)
    return path


def write_run(result: Reconciliation, folder: str | Path) -> Path:
    """Write the run folder into ``folder`` (created if needed); returns its path."""
    folder = private_dir(folder)  # personal data: 0700 folders, 0600 files (recon.private)
    batches = private_dir(folder / BATCHES_DIR)
    jobs: dict[str, Callable[[], Path]] = {
        name: partial(safe_csv if table.people else import_csv,
                      getattr(result, table.attribute)[list(table.columns)], folder / name)
        for name, table in TABLES.items()}
    for name, batch in BATCHES.items():
        jobs[batch.file] = partial(_write_batch, result, name, batches / batch.file)
        if batch.csv:  # the flat import file beside it: exact cells
            jobs[batch.csv] = partial(import_csv, result.batch(name), batches / batch.csv)
    run_all(jobs)  # independent files, and pyarrow's kernels release the GIL: side by side
    text = json.dumps(result.summary, indent=2, ensure_ascii=False) + "\n"
    (folder / SUMMARY_FILE).write_text(text, encoding="utf-8")
    return private_tree(folder)


def _write_batch(result: Reconciliation, batch: str, path: Path) -> Path:
    return write_texts(TEXTS[batch](result.batch(batch)), path)
