"""Batch frames as the JSON objects each system takes, one per line.

- ``migrate_to_strivacity``: a Strivacity create-account body (reference/strivacity.md §4.2):
  ``{"language", "email": {"id", "verified": false}, "phone": {"id"} (E.164 only),
  "local": {"metadata": {nested attributes, including the link}}}``.
- ``create_in_dynamics``: a Dataverse contact body (logical column names; blanks left out).
- ``update_dynamics``: ``{"contactid", "etag", "set": {column: new}, "was": {column: old}}``.
- ``update_strivacity``: ``{"operation": "updatePersonalData", "identityStore", "accountId",
  "value": {nested attributes}}`` (reference/strivacity.md §4.3).

This is the only per-row Python in the engine, and it runs lazily, when lines are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import groupby
from typing import Any

import pandas as pd

from recon.engine.attributes import nest
from recon.engine.batches import EMAIL_ID, PHONE_ID

Line = dict[str, Any]


def _records(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Rows as dicts with None for blanks."""
    columns = list(frame.columns)
    plain = frame.astype(object).where(frame.notna(), None)
    for values in plain.itertuples(index=False, name=None):
        yield dict(zip(columns, values, strict=True))


def migrate_lines(frame: pd.DataFrame) -> Iterator[Line]:
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


def create_lines(frame: pd.DataFrame) -> Iterator[Line]:
    """Dataverse contact bodies, without the tracing ``strivacity_id``."""
    for row in _records(frame):
        yield {k: v for k, v in row.items() if k != "strivacity_id" and v is not None}


def _dataverse(column: str, value: str | None) -> Any:
    """A drift value as Dataverse takes it: the active flag becomes ``statecode``."""
    if column == "statecode" and value is not None:
        return 0 if value == "true" else 1
    return value


def update_dynamics_lines(frame: pd.DataFrame) -> Iterator[Line]:
    """One PATCH description per contact, in contact id order."""
    for contactid, group in groupby(_records(frame), key=lambda row: row["contactid"]):
        rows = list(group)
        yield {"contactid": contactid, "etag": rows[0]["etag"],
               "set": {r["column"]: _dataverse(r["column"], r["new"]) for r in rows},
               "was": {r["column"]: _dataverse(r["column"], r["old"]) for r in rows}}


def update_strivacity_lines(frame: pd.DataFrame) -> Iterator[Line]:
    """One ``updatePersonalData`` operation per account, in account id order."""
    for account, group in groupby(_records(frame), key=lambda row: row["accountId"]):
        rows = list(group)
        yield {"operation": "updatePersonalData", "identityStore": rows[0]["identityStore"],
               "accountId": account, "value": nest((r["attribute"], r["value"]) for r in rows)}


#: Batch name -> the function that turns its frame into lines.
LINES: dict[str, Callable[[pd.DataFrame], Iterator[Line]]] = {
    "migrate_to_strivacity": migrate_lines,
    "create_in_dynamics": create_lines,
    "update_dynamics": update_dynamics_lines,
    "update_strivacity": update_strivacity_lines,
}
