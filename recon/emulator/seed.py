"""Reading the emulator's seed files: a Dataverse contacts CSV and Strivacity account NDJSON.

Values are typed the way Dataverse sends them (``statecode``/``versionnumber`` as ints); a bad
row fails with the file, line and column, and what to fix.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from recon.emulator.store import INT_COLUMNS
from recon.errors import InputError
from recon.resources import sample_dir

SAMPLE_DYNAMICS = "dynamics_contacts.csv"
SAMPLE_STRIVACITY = "strivacity_accounts.ndjson"


def resolve(path: str | Path | None, sample: str) -> Path:
    """The seed file to read: the given path, or that file of the bundled sample tenant."""
    return Path(path) if path is not None else sample_dir() / sample


def read_contacts(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows and header of a contacts CSV with Dataverse logical names."""
    if not path.exists():
        raise InputError("the contacts seed file does not exist", file=str(path),
                         fix="Pass --dynamics with a CSV of Dataverse contacts.")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        if "contactid" not in header:
            raise InputError("there is no 'contactid' column", file=str(path), line=1,
                             fix="Use Dataverse logical names in the header (contactid, "
                                 "emailaddress1, ...).")
        rows = []
        for row in reader:
            for column in INT_COLUMNS.intersection(header):
                value = (row.get(column) or "").strip()
                if value and not value.lstrip("-").isdigit():
                    raise InputError(f"{value!r} is not a whole number", file=str(path),
                                     line=reader.line_num, column=column,
                                     record=row.get("contactid"),
                                     fix="Write statecode/versionnumber as integers.")
            rows.append(row)
    return rows, header


def read_accounts(path: Path) -> list[dict[str, Any]]:
    """Account records from NDJSON (one object a line) or a JSON array."""
    if not path.exists():
        raise InputError("the Strivacity seed file does not exist", file=str(path),
                         fix="Pass --strivacity with an NDJSON file of account records.")
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("["):
        records = json.loads(text)
        numbered = list(enumerate(records, start=1))
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                raise InputError(f"not JSON ({error.msg})", file=str(path), line=number,
                                 fix="Write one account object per line.") from None
    for number, record in numbered:
        if not isinstance(record, dict) or not record.get("id"):
            raise InputError("the account has no 'id'", file=str(path), line=number,
                             fix="Give every account record its Strivacity id.")
    return [record for _, record in numbered]
