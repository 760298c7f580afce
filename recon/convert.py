"""Vectorised conversions of raw source columns to canonical dtypes, failing on the first bad row.

Shared by the Dynamics and Strivacity loaders. Values may arrive as strings (CSV), as typed
values (JSON, Parquet, Excel) or as a mix; every converter accepts all of them and never
modifies its input. A value that is present but cannot be converted raises ``InputError``
naming the row (its file line when known, else its record id) and the column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.errors import InputError

TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


@dataclass(frozen=True)
class Origin:
    """Where rows came from, so errors can point at them: a file and, if known, row -> line."""

    source: str = "<frame>"
    line_of: Callable[[int], int] | None = None
    header_line: int | None = None

    def where(self, row: int) -> str:
        """Row ``row`` (0-based) as people find it: its file line, else its position."""
        return f"line {self.line_of(row)}" if self.line_of is not None else f"row {row + 1}"

    def error(self, row: int, problem: str, *, column: str | None = None,
              record: str | None = None, fix: str | None = None) -> InputError:
        """An ``InputError`` for the row at position ``row`` (0-based)."""
        if self.line_of is not None:
            return InputError(problem, file=self.source, line=self.line_of(row),
                              column=column, record=record, fix=fix)
        where = f"row {row + 1}" if record is None else f"{record} (row {row + 1})"
        return InputError(problem, file=self.source, column=column, record=where, fix=fix)


def as_string(values: pd.Series) -> pd.Series:
    """Values as STRING text with a RangeIndex; empty strings and missing values become NA.

    Integral floats (a Parquet or Excel column of ids or phones with gaps) print without ``.0``.
    """
    arr = arrow(values)
    if pa.types.is_floating(arr.type):
        finite = pc.fill_null(pc.is_finite(arr), True)
        whole = pc.fill_null(pc.equal(pc.floor(arr), arr), True)
        # past int64 a float is printed as it is (casting it would fail with a traceback)
        fits = pc.fill_null(pc.less(pc.abs(arr), 2.0 ** 63), True)
        if pc.all(pc.and_(pc.and_(finite, whole), fits)).as_py():
            arr = pc.cast(arr, pa.int64())
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    empty = pc.fill_null(pc.equal(arr, ""), False)
    if pc.any(empty).as_py():
        arr = pc.if_else(empty, pa.scalar(None, pa.string()), arr)
    return from_arrow(arr)


def from_arrow(values: pa.ChunkedArray | pa.Array) -> pd.Series:
    """An arrow array as an arrow-backed Series with a RangeIndex (no copy)."""
    return pd.Series(pd.arrays.ArrowExtensionArray(values), index=pd.RangeIndex(len(values)))


def arrow(values: pd.Series) -> pa.ChunkedArray:
    """The values of a Series as a pyarrow array (no copy when already arrow-backed)."""
    if isinstance(values.dtype, pd.ArrowDtype):
        return pa.chunked_array(values.array.__arrow_array__())
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed Python types (e.g. ints and strings in one JSON column): print each one.
        objects = values.astype(object)
        texts = [None if _missing(v) else _plain(v) for v in objects]
        arr = pa.array(texts, type=pa.string())
    if pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type):
        arr = pc.cast(arr, pa.string())
    return pa.chunked_array([arr])


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: The times a ``datetime64[ns, UTC]`` holds.
_EARLIEST, _LATEST = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")


def timestamps(values: pd.Series, column: str, origin: Origin,
               ids: pd.Series | None = None) -> pd.Series:
    """ISO 8601 text or datetimes as ``datetime64[ns, UTC]``; naive values are taken as UTC."""
    fast = _iso_utc(values)
    if fast is not None:
        return fast
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
        present = values.notna().to_numpy()
    else:
        text = as_string(values)
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        present = text.notna().to_numpy()
    bad = present & parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise origin.error(row, f"cannot read {values.iloc[row]!r} as a date and time",
                           column=column, record=_record(ids, row),
                           fix="Write it as ISO 8601, e.g. 2024-03-01T10:00:00Z, or leave it empty")
    # A time recon cannot hold (nanoseconds since 1970 reach only the years 1677-2262), e.g.
    # "1000" read as the year 1000: said, not a traceback from the conversion below.
    outside = (parsed.notna() & ((parsed < _EARLIEST) | (parsed > _LATEST))).to_numpy()
    if outside.any():
        row = int(np.argmax(outside))
        raise origin.error(row, f"'{values.iloc[row]}' is a date and time outside the years "
                           "1677-2262 that recon can hold", column=column,
                           record=_record(ids, row),
                           fix="Correct it in the source system (a year like 1000 is a typo or "
                               "a placeholder), or leave it empty")
    return parsed.set_axis(pd.RangeIndex(len(values))).astype(pd.DatetimeTZDtype("ns", "UTC"))


def _iso_utc(values: pd.Series) -> pd.Series | None:
    """Text that is all ISO 8601 with a zone (``...Z``, ``...+02:00``) parsed by pyarrow.

    pyarrow reads a subset of what pandas reads, and reads it the same; ``None`` means some
    value is outside that subset (or not a date at all) and pandas must decide.
    """
    if not isinstance(values.dtype, pd.ArrowDtype) or not pa.types.is_string(
            values.dtype.pyarrow_dtype):
        return None
    try:
        parsed = pc.cast(arrow(as_string(values)), pa.timestamp("ns", "UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = parsed.to_pandas()
    return out.set_axis(pd.RangeIndex(len(values))).astype(pd.DatetimeTZDtype("ns", "UTC"))


def flags(values: pd.Series, column: str, origin: Origin, ids: pd.Series | None = None, *,
          true: Sequence[str] = TRUE_WORDS, false: Sequence[str] = FALSE_WORDS) -> pd.Series:
    """Booleans from bools or words (case-insensitive) as pandas "boolean"; empty is NA."""
    given = arrow(values)
    if pa.types.is_boolean(given.type):  # already yes/no: nothing to read
        out = pd.Series(given.to_numpy(zero_copy_only=False), dtype="boolean")
        return out.set_axis(pd.RangeIndex(len(values)))
    text = arrow(as_string(values))
    word = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    is_true = pc.is_in(word, pa.array(list(true)))
    is_false = pc.is_in(word, pa.array(list(false)))
    bad = pc.and_(pc.is_valid(word), pc.invert(pc.or_(is_true, is_false)))
    bad_np = bad.to_numpy(zero_copy_only=False)
    if bad_np.any():
        row = int(np.argmax(bad_np))
        raise origin.error(row, f"cannot read {values.iloc[row]!r} as a yes/no value",
                           column=column, record=_record(ids, row),
                           fix=f"Use one of {', '.join([*true, *false])}, or leave it empty")
    result = pc.if_else(pc.is_valid(word), is_true, pa.scalar(None, pa.bool_()))
    out = pd.Series(result.to_numpy(zero_copy_only=False), dtype="boolean")
    return out.set_axis(pd.RangeIndex(len(values)))


def record_ids(values: pd.Series, column: str, origin: Origin, *, guid: bool) -> pd.Series:
    """Trimmed ids (GUIDs lower-cased without braces); a row without one, or an id on two rows,
    raises ``InputError``."""
    ids = arrow(as_string(values))
    ids = pc.utf8_trim_whitespace(ids)
    if guid:
        ids = pc.utf8_lower(_unbraced(ids))
    ids = pc.if_else(pc.fill_null(pc.equal(ids, ""), True), pa.scalar(None, pa.string()), ids)
    missing = pc.is_null(ids).to_numpy(zero_copy_only=False)
    if missing.any():
        row = int(np.argmax(missing))
        raise origin.error(row, "the record has no id", column=column,
                           fix=f"Fill in {column!r} for every record, or remove the row")
    if pc.count_distinct(ids).as_py() < len(ids):
        raise _repeated_id(ids, column, origin)
    return from_arrow(ids)


def _repeated_id(ids: pa.ChunkedArray, column: str, origin: Origin) -> InputError:
    """The error for the first id that a later row repeats, naming both rows.

    Two records with one id cannot both be reconciled: which one the other side pairs with,
    and which one a batch writes, would be a guess.
    """
    values = pd.Series(ids.to_numpy(zero_copy_only=False))
    second = int(np.argmax(values.duplicated(keep="first").to_numpy()))
    first = int(np.argmax((values == values.iloc[second]).to_numpy()))
    value = str(values.iloc[second])
    both = f"{origin.where(first)} and {origin.where(second)}"
    line = origin.line_of(second) if origin.line_of is not None else None
    return InputError(f"the id {value!r} is on two records ({both})", file=origin.source,
                      line=line, column=column, record=value,
                      fix="Each record must appear once: remove or merge the repeated record, "
                          "or export the records again")


def guids(values: pd.Series) -> pd.Series:
    """Optional GUID references (e.g. the link attribute) lower-cased without braces."""
    text = arrow(as_string(values))
    text = pc.utf8_lower(_unbraced(pc.utf8_trim_whitespace(text)))
    text = pc.if_else(pc.fill_null(pc.equal(text, ""), True), pa.scalar(None, pa.string()), text)
    return from_arrow(text)


def _unbraced(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """GUIDs without the one pair of braces Dynamics sometimes writes around them."""
    braced = pc.or_(pc.starts_with(values, "{"), pc.ends_with(values, "}"))
    if not pc.any(braced).as_py():  # the usual case: skip the regex
        return values
    return pc.replace_substring_regex(values, r"^\{|\}$", "")


def _record(ids: pd.Series | None, row: int) -> str | None:
    if ids is None:
        return None
    value = ids.iloc[row]
    return None if pd.isna(value) else str(value)


def check_columns(columns: pd.Index, required: Sequence[str], origin: Origin, what: str) -> None:
    """Raise ``InputError`` for duplicate column names or missing required ones, listing them."""
    dupes = sorted({str(c) for c in columns[columns.duplicated()]})
    if dupes:
        raise InputError(f"duplicate column names {dupes}", file=origin.source,
                         line=origin.header_line,
                         fix="Rename or remove the repeated columns so each name appears once")
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(f"missing required columns {missing} ({what})", file=origin.source,
                         line=origin.header_line,
                         fix=f"Add the columns {', '.join(missing)} to the export "
                             "or map them with --fields")
