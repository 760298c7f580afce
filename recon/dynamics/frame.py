"""Dynamics contact rows (Dataverse logical names) into the canonical frame (DESIGN §3).

This is the one place a Dynamics source becomes canonical: the file readers and the Web API
pull both hand their raw rows here, as text (CSV) or as typed values (JSON, Parquet).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
import pyarrow.compute as pc

from recon.convert import (
    Origin,
    arrow,
    as_string,
    check_columns,
    flags,
    from_arrow,
    record_ids,
    timestamps,
)
from recon.fields import (
    DEFAULT_FIELDS,
    DYNAMICS_COLUMNS,
    DYNAMICS_REQUIRED,
    MAPPED,
    RAW_PREFIX,
    Field,
    FieldMap,
    check_named,
)
from recon.normalize import STRING, email_key
from recon.parallel import ColumnTask, run_columns

ID = DYNAMICS_REQUIRED[0]
ETAG = "@odata.etag"
VERSION = "versionnumber"
SECONDARY_EMAILS = {"email2_key": "emailaddress2", "email3_key": "emailaddress3"}
TIMES = {"created_at": "createdon", "updated_at": "modifiedon"}
STATE_ACTIVE = ("0", "active")
STATE_INACTIVE = ("1", "inactive")


def to_canonical(raw: pd.DataFrame, fields: FieldMap = DEFAULT_FIELDS, source: str = "<frame>",
                 *, line_of: Callable[[int], int] | None = None,
                 header_line: int | None = None) -> pd.DataFrame:
    """Turn contact rows keyed by logical names into the canonical Dynamics frame.

    ``line_of(i)`` gives row ``i``'s line in ``source`` (``header_line`` the header's) so errors
    can point at them; without ``line_of``, errors name the row's position and contact id.
    Unmapped columns follow the canonical ones as ``raw_<name>``. ``raw`` is not modified.
    """
    origin = Origin(source, line_of, header_line)
    email_column = fields["email"].dynamics
    required = tuple(dict.fromkeys((ID, email_column)))
    check_columns(raw.columns, required, origin, "Dataverse contact logical names")
    check_named(fields, "dynamics", lambda column: column in raw.columns, source)
    ids = record_ids(raw[ID], ID, origin, guid=True)
    out = {"record_id": ids, **run_columns(_column_tasks(raw, fields, origin, ids))}
    used = {ID, ETAG, *TIMES.values(), *SECONDARY_EMAILS.values(),
            *(f.dynamics for f in fields.fields)}
    frame = pd.DataFrame({name: out[name] for name in DYNAMICS_COLUMNS})
    extra = {f"{RAW_PREFIX}{c}": raw[c].reset_index(drop=True)
             for c in raw.columns if c not in used}
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)
    return frame


def _column(raw: pd.DataFrame, name: str) -> pd.Series:
    """A column with a RangeIndex, or an all-NA one when the source lacks it."""
    if name in raw.columns:
        return raw[name].reset_index(drop=True)
    return pd.Series(pd.NA, index=pd.RangeIndex(len(raw)), dtype=STRING)


def _column_tasks(raw: pd.DataFrame, fields: FieldMap, origin: Origin,
                  ids: pd.Series) -> dict[str, ColumnTask]:
    """The canonical columns other than the id, each as a task for ``run_columns``."""
    tasks: dict[str, ColumnTask] = {"emails": partial(_emails, raw, fields["email"].dynamics)}
    tasks.update({name: partial(_mapped, raw, fields[name]) for name in MAPPED})
    state = fields["active"].dynamics
    tasks["active"] = lambda: flags(_column(raw, state), state, origin, ids,
                                    true=STATE_ACTIVE, false=STATE_INACTIVE)
    for name, column in TIMES.items():
        tasks[name] = partial(_timestamps, raw, column, origin, ids)
    tasks["etag"] = partial(_etag, raw)
    for name, column in SECONDARY_EMAILS.items():
        tasks[name] = partial(_secondary_key, raw, column)
    return tasks


def _emails(raw: pd.DataFrame, column: str) -> pd.DataFrame:
    """The raw primary email, its key and its status."""
    email = as_string(raw[column])
    key, status = email_key(email)
    return pd.DataFrame({"email": email, "email_key": key, "email_status": status})


def _mapped(raw: pd.DataFrame, field: Field) -> pd.Series:
    """A compared field as Dynamics holds it (text; empty is NA). The engine compares it
    through its comparer; batches write it as it is, so rollback can restore it."""
    return as_string(_column(raw, field.dynamics))


def _timestamps(raw: pd.DataFrame, column: str, origin: Origin, ids: pd.Series) -> pd.Series:
    return timestamps(_column(raw, column), column, origin, ids)


def _secondary_key(raw: pd.DataFrame, column: str) -> pd.Series:
    return email_key(as_string(_column(raw, column)))[0]


def _etag(raw: pd.DataFrame) -> pd.Series:
    """The row's ``@odata.etag``, else ``W/"<versionnumber>"``, else NA."""
    version = arrow(as_string(_column(raw, VERSION)))
    built = pc.binary_join_element_wise('W/"', version, '"', "")
    given = arrow(as_string(_column(raw, ETAG)))
    etag = pc.coalesce(given, built)
    return from_arrow(etag)
