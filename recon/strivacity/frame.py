"""Strivacity account records (flattened to dotted columns) into the canonical frame (DESIGN §3).

Account records are Admin API ``AccountResponse`` objects. Flattened with ``sep="."`` their
attributes appear under ``accountInfo.``, ``identities.local.metadata.`` or at the top level; an
attribute path is looked up in that order, per record, the first non-empty value winning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.convert import (
    Origin,
    arrow,
    as_string,
    check_columns,
    flags,
    from_arrow,
    guids,
    record_ids,
    timestamps,
)
from recon.errors import InputError
from recon.fields import (
    DEFAULT_FIELDS,
    MAPPED,
    RAW_PREFIX,
    STRIVACITY_COLUMNS,
    Field,
    FieldMap,
    check_named,
)
from recon.normalize import STRING, email_key
from recon.parallel import ColumnTask, run_columns
from recon.settings import DEFAULT_STORE

ID = "id"
STORE = "store"
TIMES = {"created_at": "createdAt", "updated_at": "updatedAt"}
EMAIL_VERIFIED = "identities.email.verified"
#: Where attribute values live in an account record, in lookup order ("" is the top level).
ATTRIBUTE_ROOTS = ("accountInfo.", "identities.local.metadata.", "")
#: Paths that name a part of the record itself rather than an attribute.
RECORD_PATHS = ("identities.", "enabled")


def flatten(records: Iterable[dict]) -> pd.DataFrame:
    """Account records as one row each, nested objects spread over dotted columns."""
    return pd.json_normalize(list(records), sep=".")


def columns_for(path: str) -> tuple[str, ...]:
    """The dotted columns that may hold ``path``, in lookup order."""
    if path.startswith(RECORD_PATHS):
        return (path,)
    return tuple(f"{root}{path}" for root in ATTRIBUTE_ROOTS)


def to_canonical(flat: pd.DataFrame, fields: FieldMap = DEFAULT_FIELDS, source: str = "<frame>",
                 *, line_of: Callable[[int], int] | None = None,
                 header_line: int | None = None, store: str = DEFAULT_STORE) -> pd.DataFrame:
    """Turn flattened account records into the canonical Strivacity frame.

    ``line_of(i)`` gives record ``i``'s line in ``source`` (``header_line`` the CSV header's) for
    errors; without them, errors name the record's position and id. ``store`` is the identity
    store of records whose own ``store`` is empty (the setting ``STRIVACITY_STORE``). Columns not
    used for a canonical field follow as ``raw_<column>``. ``flat`` is not modified.
    """
    origin = Origin(source, line_of, header_line)
    check_columns(flat.columns, (ID,), origin, "Strivacity account id")
    email_paths = fields["email"].strivacity
    if not any(c in flat.columns for p in email_paths for c in columns_for(p)):
        raise InputError(f"no email column; looked for {list(email_paths)} in accountInfo, "
                         "identities.local.metadata and the top level", file=source,
                         line=header_line, fix="Export the primary email attribute or the "
                         "email identifier, or map another attribute with --fields")
    if len(flat):  # an empty export holds no attribute at all
        check_named(fields, "strivacity",
                    lambda path: any(c in flat.columns for c in columns_for(path)), source)
    ids = record_ids(flat[ID], ID, origin, guid=False)
    emails = partial(_emails, flat, email_paths)  # the slowest: first, beside the others
    out = {"record_id": ids, "store": _stores(flat, store),
           **run_columns({"emails": emails, **_column_tasks(flat, fields, origin, ids)})}
    frame = pd.DataFrame({name: out[name] for name in STRIVACITY_COLUMNS})
    used = {ID, STORE, EMAIL_VERIFIED, *TIMES.values(), *_attribute_columns(fields)}
    extra = {f"{RAW_PREFIX}{c}": flat[c].reset_index(drop=True)
             for c in flat.columns if c not in used}
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
    return frame


def _column_tasks(flat: pd.DataFrame, fields: FieldMap, origin: Origin,
                  ids: pd.Series) -> dict[str, ColumnTask]:
    """The canonical columns other than the id and email, each as a task for ``run_columns``."""
    tasks: dict[str, ColumnTask] = {
        name: partial(_mapped, flat, fields[name]) for name in MAPPED}
    active = fields["active"].strivacity
    tasks["active"] = partial(_flags, flat, active, origin, ids)
    for name, column in TIMES.items():
        tasks[name] = partial(_timestamps, flat, column, origin, ids)
    tasks["email_verified"] = partial(_verified, flat, origin, ids)
    tasks["link"] = partial(_guids, flat, fields.link_attribute)
    return tasks


def _emails(flat: pd.DataFrame, paths: Sequence[str]) -> pd.DataFrame:
    """The raw primary email, its key and its status."""
    email = resolve(flat, paths)
    key, status = email_key(email)
    return pd.DataFrame({"email": email, "email_key": key, "email_status": status})


def _mapped(flat: pd.DataFrame, field: Field) -> pd.Series:
    """A compared field as the account holds it (the first place that has it)."""
    return resolve(flat, field.strivacity)


def _stores(flat: pd.DataFrame, default: str) -> pd.Series:
    """Each account's identity store: its own ``store``, else ``default``."""
    own = arrow(as_string(_column(flat, STORE)))
    own = pc.utf8_trim_whitespace(own)
    own = pc.if_else(pc.fill_null(pc.equal(own, ""), True), pa.scalar(default, pa.string()), own)
    return from_arrow(own)


def _flags(flat: pd.DataFrame, paths: Sequence[str], origin: Origin, ids: pd.Series) -> pd.Series:
    return flags(resolve(flat, paths), paths[0], origin, ids)


def _verified(flat: pd.DataFrame, origin: Origin, ids: pd.Series) -> pd.Series:
    return flags(_column(flat, EMAIL_VERIFIED), EMAIL_VERIFIED, origin, ids)


def _timestamps(flat: pd.DataFrame, column: str, origin: Origin, ids: pd.Series) -> pd.Series:
    return timestamps(_column(flat, column), column, origin, ids)


def _guids(flat: pd.DataFrame, path: str) -> pd.Series:
    return guids(resolve(flat, (path,)))


def resolve(flat: pd.DataFrame, paths: Sequence[str]) -> pd.Series:
    """Per record, the first non-empty value among the columns of ``paths``, as STRING."""
    found = [_blank_to_null(arrow(as_string(flat[c])))
             for p in paths for c in columns_for(p) if c in flat.columns and flat[c].count()]
    if not found:
        return pd.Series(pd.NA, index=pd.RangeIndex(len(flat)), dtype=STRING)
    merged = found[0] if len(found) == 1 else pc.coalesce(*found)
    return from_arrow(merged)


def _blank_to_null(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whitespace-only counts as absent, so the next place an attribute may live is tried."""
    blank = pc.fill_null(pc.utf8_is_space(values), False)  # as_string made "" null already
    if not pc.any(blank).as_py():
        return values
    return pc.if_else(blank, pa.scalar(None, pa.string()), values)


def _column(flat: pd.DataFrame, name: str) -> pd.Series:
    if name in flat.columns:
        return flat[name].reset_index(drop=True)
    return pd.Series(pd.NA, index=pd.RangeIndex(len(flat)), dtype=STRING)


def _attribute_columns(fields: FieldMap) -> set[str]:
    paths = [p for f in fields.fields for p in f.strivacity] + [fields.link_attribute]
    return {c for p in paths for c in columns_for(p)}
