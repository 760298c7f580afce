"""Strivacity account exports (NDJSON / JSON lines, JSON array, CSV with dotted headers).

Records are Admin API account objects; nested objects become dotted columns
(``accountInfo.name.givenName``) and ``to_canonical`` resolves the attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from recon.fields import DEFAULT_FIELDS, FieldMap
from recon.normalize import STRING
from recon.readers import LineOf, file_format, read_csv, read_json_document, read_json_lines
from recon.settings import strivacity_store
from recon.strivacity.frame import columns_for, flatten, to_canonical

Reader = Callable[[str | Path], tuple[pd.DataFrame, LineOf | None, int | None]]


def read_strivacity(path: str | Path, format: str | None = None,
                    fields: FieldMap = DEFAULT_FIELDS, store: str | None = None) -> pd.DataFrame:
    """Read a Strivacity account export into the canonical frame (DESIGN §3).

    ``format`` is one of ``READERS`` (ndjson, jsonl, json, csv); by default it follows the
    file extension. An account without its own ``store`` is taken to live in ``store``, by
    default the setting ``STRIVACITY_STORE`` (else ``"default"``). Bad input raises
    ``InputError`` naming the file, line and column.
    """
    frame, line_of, header_line = READERS[file_format(path, format, READERS, "Strivacity")](path)
    store = store or strivacity_store()
    if frame.empty and not len(frame.columns):  # a JSON []: no records, no columns
        return empty_strivacity(fields, str(path), store)
    return to_canonical(frame, fields, str(path), line_of=line_of, header_line=header_line,
                        store=store)


def empty_strivacity(fields: FieldMap = DEFAULT_FIELDS, source: str = "<empty>",
                     store: str | None = None) -> pd.DataFrame:
    """The canonical frame of zero accounts."""
    columns = dict.fromkeys(("id", columns_for(fields["email"].strivacity[0])[0]))
    return to_canonical(pd.DataFrame({c: pd.Series([], dtype=STRING) for c in columns}),
                        fields, source, store=store or strivacity_store())


def _read_lines(path: str | Path) -> tuple[pd.DataFrame, LineOf | None, int | None]:
    frame, line_of = read_json_lines(path)
    return frame, line_of, None


def _read_array(path: str | Path) -> tuple[pd.DataFrame, LineOf | None, int | None]:
    return flatten(read_json_document(path)), None, None


def _read_csv(path: str | Path) -> tuple[pd.DataFrame, LineOf | None, int | None]:
    frame, line_of = read_csv(path)
    return frame, line_of, 1


READERS: dict[str, Reader] = {
    "ndjson": _read_lines,
    "jsonl": _read_lines,
    "json": _read_array,
    "csv": _read_csv,
}
