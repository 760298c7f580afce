"""Batch frames as the JSON objects each system takes, one per line.

- ``migrate_to_strivacity``: a Strivacity create-account body (reference/strivacity.md §4.2):
  ``{"language", "email": {"id", "verified": false}, "phone": {"id"} (E.164 only),
  "local": {"metadata": {nested attributes, including the link}}}``.
- ``create_in_dynamics``: a Dataverse contact body (logical column names; blanks left out).
- ``update_dynamics``: ``{"contactid", "etag", "set": {column: new}, "was": {column: old}}``.
- ``update_strivacity``: ``{"operation": "updatePersonalData", "identityStore", "accountId",
  "value": {nested attributes}}`` (reference/strivacity.md §4.3).

``TEXTS`` is the one encoder: it turns a batch's rows (an Arrow table with the batch frame's
columns, ``recon.engine.batches``; the run-folder writer hands it one chunk at a time) into the
lines, built column-wise with pyarrow so that a million-row run folder is written in seconds,
exactly as ``json.dumps(line, ensure_ascii=False, separators=(",", ":"))`` would encode them.
Rows the column-wise builder cannot mirror exactly (a column that is not text, attributes
repeated for one record, paths that nest differently row by row: only odd field maps make
them) are encoded row by row from dicts instead (``_encoded``), the same bytes. Readers that
want the objects parse the encoded lines (``Reconciliation.batch_lines``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.attributes import join_members, nest, nested_text, nests_by_column
from recon.engine.batches import EMAIL_ID, PHONE_ID

Line = dict[str, Any]
# One encoder for every line: json.dumps with options builds a new encoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
json_key: Callable[[Any], str] = _JSON.encode
_CONTROL = r"[\x00-\x1f]"


def _records(frame: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows as dicts with None for blanks."""
    yield from frame.to_pylist()


def strings(frame: pa.Table, column: str) -> pa.Array:
    """One text column of ``frame`` as a single string array."""
    values = frame.column(column)
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return values if values.type == pa.string() else values.cast(pa.string())


def _migrate_lines(frame: pa.Table) -> Iterator[Line]:
    """Strivacity create-account bodies."""
    skip = {"language", EMAIL_ID, PHONE_ID}
    for row in _records(frame):
        body: Line = {"language": row["language"],
                      "email": {"id": row[EMAIL_ID], "verified": False}}
        if row[PHONE_ID] is not None:
            body["phone"] = {"id": row[PHONE_ID]}
        attributes = ((k, v) for k, v in row.items() if k not in skip and v is not None)
        body["local"] = {"metadata": nest(attributes)}
        yield body


def _create_lines(frame: pa.Table) -> Iterator[Line]:
    """Dataverse contact bodies, without the tracing ``strivacity_id``."""
    for row in _records(frame):
        yield {k: v for k, v in row.items() if k != "strivacity_id" and v is not None}


def _dataverse(column: str, value: str | None) -> Any:
    """A drift value as Dataverse takes it: the active flag becomes ``statecode``."""
    if column == "statecode" and value is not None:
        return 0 if value == "true" else 1
    return value


def _update_dynamics_lines(frame: pa.Table) -> Iterator[Line]:
    """One PATCH description per contact, in contact id order."""
    for contactid, group in groupby(_records(frame), key=lambda row: row["contactid"]):
        rows = list(group)
        yield {"contactid": contactid, "etag": rows[0]["etag"],
               "set": {r["column"]: _dataverse(r["column"], r["new"]) for r in rows},
               "was": {r["column"]: _dataverse(r["column"], r["old"]) for r in rows}}


def _update_strivacity_lines(frame: pa.Table) -> Iterator[Line]:
    """One ``updatePersonalData`` operation per account, in account id order."""
    for account, group in groupby(_records(frame), key=lambda row: row["accountId"]):
        rows = list(group)
        yield {"operation": "updatePersonalData", "identityStore": rows[0]["identityStore"],
               "accountId": account, "value": nest((r["attribute"], r["value"]) for r in rows)}


def utf8_view(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's offsets and UTF-8 data as zero-copy numpy views: value ``i`` is
    ``data[offsets[i]:offsets[i + 1]]``."""
    _, offsets, data = values.buffers()
    if offsets is None:
        return np.zeros(len(values) + 1, np.int32), np.zeros(0, np.uint8)
    view = np.frombuffer(offsets, np.int32)[values.offset:values.offset + len(values) + 1]
    return view, (np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8))


def utf8_data(values: pa.Array) -> np.ndarray:
    """All the values' UTF-8 bytes back to back (a zero-copy view)."""
    offsets, data = utf8_view(values)
    return data[offsets[0]:offsets[-1]]


def contains_any(values: pa.Array, chars: bytes) -> bool:
    """True when some value holds one of the (ASCII) ``chars``: one scan, no per-row work."""
    raw = utf8_data(values).tobytes()
    return any(bytes([char]) in raw for char in chars)


def json_strings(values: pa.Array) -> pa.Array:
    """Each string as a JSON string literal, as ``json.dumps(ensure_ascii=False)``; null stays
    null. Control characters are rare, so rows holding one are left to ``json``."""
    text = values
    if contains_any(values, b'"\\'):
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    text = pc.binary_join_element_wise('"', text, '"', "")
    data = utf8_data(values)
    if len(data) and data.min() < 0x20:
        control = pc.fill_null(pc.match_substring_regex(values, _CONTROL), False)
        odd = [json_key(value) for value in values.filter(control).to_pylist()]
        text = pc.replace_with_mask(text, control, pa.array(odd, pa.string()))
    return text


def _encoded(lines: Iterable[Line]) -> pa.Array:
    """Lines encoded one by one: the exact fallback for frames the column-wise path cannot do."""
    return pa.array([json_key(line) for line in lines], pa.string())


def _columnar(frame: pa.Table, columns: Iterable[str]) -> bool:
    """True when the columns are unique and all text, so every value is a JSON string or null."""
    names = frame.column_names
    return len(set(names)) == len(names) and all(
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
        for t in (frame.schema.field(c).type for c in columns))


def _json(frame: pa.Table, column: str) -> pa.Array:
    return json_strings(strings(frame, column))


def migrate_text(frame: pa.Table) -> pa.Array:
    """``_migrate_lines``, encoded column-wise."""
    attributes = [c for c in frame.column_names if c not in {"language", EMAIL_ID, PHONE_ID}]
    if not (_columnar(frame, frame.column_names) and nests_by_column(attributes)):
        return _encoded(_migrate_lines(frame))
    metadata = nested_text(attributes, [_json(frame, c) for c in attributes], frame.num_rows,
                           json_key)
    phone = pc.binary_join_element_wise(',"phone":{"id":', _json(frame, PHONE_ID), "}", "")
    return pc.binary_join_element_wise(
        '{"language":', pc.fill_null(_json(frame, "language"), "null"),
        ',"email":{"id":', pc.fill_null(_json(frame, EMAIL_ID), "null"), ',"verified":false}',
        pc.fill_null(phone, ""), ',"local":{"metadata":', metadata, "}}", "")


def create_text(frame: pa.Table) -> pa.Array:
    """``_create_lines``, encoded column-wise."""
    columns = [c for c in frame.column_names if c != "strivacity_id"]
    if not _columnar(frame, columns):
        return _encoded(_create_lines(frame))
    members = [pc.binary_join_element_wise(json_key(c) + ":", _json(frame, c), "")
               for c in columns]
    return pc.binary_join_element_wise("{", join_members(members, frame.num_rows), "}", "")


def _runs(keys: pa.Array) -> np.ndarray:
    """Bounds of the runs of equal consecutive keys (nulls equal each other): starts, then end."""
    if len(keys) == 0:
        return np.zeros(1, np.int32)
    after, before = keys.slice(1), keys.slice(0, len(keys) - 1)
    differ = pc.coalesce(pc.not_equal(after, before),
                         pc.xor(pc.is_null(after), pc.is_null(before)))
    starts = np.flatnonzero(differ.to_numpy(zero_copy_only=False)) + 1
    return np.concatenate([[0], starts, [len(keys)]]).astype(np.int32)


def _join_runs(texts: pa.Array, bounds: np.ndarray) -> pa.Array:
    """Per run, its texts joined by commas."""
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(bounds), texts), ",")


def _repeats(bounds: np.ndarray, codes: np.ndarray) -> bool:
    """True when some run holds the same code twice."""
    run = np.repeat(np.arange(len(bounds) - 1, dtype=np.int64), np.diff(bounds))
    pairs = np.sort(run * (int(codes.max(initial=0)) + 1) + codes)
    return bool((pairs[1:] == pairs[:-1]).any())


def _codes(values: pa.Array) -> tuple[list[str], np.ndarray]:
    """A text column with few distinct values (no nulls) as those values and codes into them."""
    encoded = pc.dictionary_encode(values)
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy().astype(np.int64)


def _first(frame: pa.Table, column: str, bounds: np.ndarray) -> pa.Array:
    """JSON of each run's first value of ``column`` ("null" when missing)."""
    return pc.fill_null(json_strings(strings(frame, column).take(pa.array(bounds[:-1]))), "null")


def _dataverse_text(statecode: pa.Array, values: pa.Array) -> pa.Array:
    """``_dataverse`` column-wise: JSON of each value, the active flag as 0/1."""
    flag = pc.and_(statecode, pc.is_valid(values))
    return pc.if_else(flag, pc.if_else(pc.equal(values, "true"), "0", "1"),
                      pc.fill_null(json_strings(values), "null"))


def update_dynamics_text(frame: pa.Table) -> pa.Array:
    """``_update_dynamics_lines``, encoded column-wise."""
    column = strings(frame, "column") if _columnar(frame, frame.column_names) else None
    if column is None or column.null_count:
        return _encoded(_update_dynamics_lines(frame))
    names, codes = _codes(column)
    bounds = _runs(strings(frame, "contactid"))
    if _repeats(bounds, codes):
        return _encoded(_update_dynamics_lines(frame))
    keys = pa.array([json_key(name) + ":" for name in names], pa.string()).take(codes)
    statecode = pa.array(np.array([n == "statecode" for n in names], bool)[codes])
    changes = [_join_runs(pc.binary_join_element_wise(
        keys, _dataverse_text(statecode, strings(frame, side)), ""), bounds)
        for side in ("new", "old")]
    return pc.binary_join_element_wise(
        '{"contactid":', _first(frame, "contactid", bounds), ',"etag":',
        _first(frame, "etag", bounds), ',"set":{', changes[0], '},"was":{', changes[1], "}}", "")


def update_strivacity_text(frame: pa.Table) -> pa.Array:
    """``_update_strivacity_lines``, encoded column-wise for two-level attribute paths."""
    attribute = strings(frame, "attribute") if _columnar(frame, frame.column_names) else None
    if attribute is None or attribute.null_count:
        return _encoded(_update_strivacity_lines(frame))
    names, codes = _codes(attribute)
    paths = [name.split(".") for name in names]
    parents = list(dict.fromkeys(path[0] for path in paths))
    parent = np.array([parents.index(path[0]) for path in paths], np.int64)[codes]
    bounds = _runs(strings(frame, "accountId"))
    # Runs of one parent within an account, and each account as a run of those runs.
    starts = np.zeros(len(parent) + 1, bool)
    starts[bounds] = starts[np.flatnonzero(parent[1:] != parent[:-1]) + 1] = True
    spans = np.flatnonzero(starts).astype(np.int32)
    within = np.searchsorted(spans, bounds).astype(np.int32)
    # nest merges a parent's keys wherever they come: only adjacent ones can be joined here.
    if (any(len(path) != 2 for path in paths) or _repeats(bounds, codes)
            or _repeats(within, parent[spans[:-1]])):
        return _encoded(_update_strivacity_lines(frame))
    leaf = pa.array([json_key(path[1]) + ":" for path in paths], pa.string()).take(codes)
    members = pc.binary_join_element_wise(leaf, pc.fill_null(_json(frame, "value"), "null"), "")
    heads = pa.array([json_key(name) + ":{" for name in parents], pa.string())
    objects = pc.binary_join_element_wise(heads.take(parent[spans[:-1]]),
                                          _join_runs(members, spans), "}", "")
    return pc.binary_join_element_wise(
        '{"operation":"updatePersonalData","identityStore":',
        _first(frame, "identityStore", bounds), ',"accountId":', _first(frame, "accountId", bounds),
        ',"value":{', _join_runs(objects, within), "}}", "")


#: Batch name -> the row-by-row builder of its objects: the exact encoding of the rows the
#: column-wise builder cannot mirror (``_encoded``), and what tests hold ``TEXTS`` to.
ROW_LINES: dict[str, Callable[[pa.Table], Iterator[Line]]] = {
    "migrate_to_strivacity": _migrate_lines,
    "create_in_dynamics": _create_lines,
    "update_dynamics": _update_dynamics_lines,
    "update_strivacity": _update_strivacity_lines,
}

#: Batch name -> the function that turns its rows into encoded lines.
#: ``update_*`` group consecutive rows of one record into one line: hand them whole records.
TEXTS: dict[str, Callable[[pa.Table], pa.Array]] = {
    "migrate_to_strivacity": migrate_text,
    "create_in_dynamics": create_text,
    "update_dynamics": update_dynamics_text,
    "update_strivacity": update_strivacity_text,
}
