"""Dynamics contact rows (Dataverse logical names) into the canonical frame (DESIGN §3).

This is the one place a Dynamics source becomes canonical: the file readers and the Web API
pull both hand their raw rows here, as text (CSV) or as typed values (JSON, Parquet).
"""

from __future__ import annotations

from collections.abc import Callable

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
    FieldMap,
)
from recon.normalize import STRING, email_key, phone, text

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
    ids = record_ids(raw[ID], ID, origin, guid=True)
    email = as_string(raw[email_column])
    key, status = email_key(email)
    out: dict[str, pd.Series] = {"record_id": ids, "email": email,
                                 "email_key": key, "email_status": status}
    out.update(_mapped(raw, fields))
    state = fields["active"].dynamics
    out["active"] = flags(_column(raw, state), state, origin, ids,
                          true=STATE_ACTIVE, false=STATE_INACTIVE)
    for name, column in TIMES.items():
        out[name] = timestamps(_column(raw, column), column, origin, ids)
    out["etag"] = _etag(raw)
    for name, column in SECONDARY_EMAILS.items():
        out[name] = email_key(as_string(_column(raw, column)))[0]
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


def _mapped(raw: pd.DataFrame, fields: FieldMap) -> dict[str, pd.Series]:
    """The compared text and phone fields, normalised by their comparer."""
    out: dict[str, pd.Series] = {}
    for name in MAPPED:
        field = fields[name]
        values = as_string(_column(raw, field.dynamics))
        out[field.name] = phone(values) if field.comparer == "phone" else text(values)
    return out


def _etag(raw: pd.DataFrame) -> pd.Series:
    """The row's ``@odata.etag``, else ``W/"<versionnumber>"``, else NA."""
    version = arrow(as_string(_column(raw, VERSION)))
    built = pc.binary_join_element_wise('W/"', version, '"', "")
    given = arrow(as_string(_column(raw, ETAG)))
    etag = pc.coalesce(given, built)
    return from_arrow(etag)
