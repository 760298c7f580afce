"""Where a pulled file came from (tenant URL, identity store, UTC time), kept with the file.

Parquet files carry it in their schema metadata under ``recon.source``; NDJSON, JSON-lines and
CSV files in a sidecar ``<file>.source.json``, which also holds the file's size and SHA-256 so a
sidecar never vouches for a file replaced or edited after the pull. ``source_record`` turns
the two sides' provenance into the run folder's ``source.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from recon.errors import InputError
from recon.private import write_private_text

log = logging.getLogger(__name__)

KEY = b"recon.source"
SIDECAR = ".source.json"
SIDES = ("dynamics", "strivacity")


def utc_text(moment: datetime) -> str:
    """``2026-12-01T17:23:02Z``: seconds, UTC."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Pulled:
    """One pull: which side, the tenant URL (and Strivacity store), and when it started (UTC)."""

    side: str
    url: str
    pulled_at: datetime
    store: str | None = None
    since: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))  # one spelling per tenant

    def to_json(self) -> dict[str, Any]:
        extra = {k: v for k, v in (("store", self.store), ("since", self.since)) if v}
        return {"side": self.side, "url": self.url,
                "pulled_at": utc_text(self.pulled_at), **extra}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Pulled:
        """Read ``to_json``'s dict back; anything else is an ``InputError`` naming ``where``."""
        try:
            when = datetime.fromisoformat(str(data["pulled_at"]).replace("Z", "+00:00"))
            pulled = cls(side=str(data["side"]), url=str(data["url"]),
                         pulled_at=when if when.tzinfo else when.replace(tzinfo=UTC),
                         store=data.get("store"), since=data.get("since"))
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise InputError(f"not a recon pull record ({exc!r})", file=where,
                             fix="Pull the data again, or delete the record to reconcile "
                                 "the file without provenance") from exc
        if pulled.side not in SIDES:
            raise InputError(f"unknown side {pulled.side!r}", file=where,
                             fix="Pull the data again with `recon pull`")
        return pulled


def sidecar_path(path: str | Path) -> Path:
    """``<file>.source.json`` beside ``path``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR)


def stamp_table(table: pa.Table, pulled: Pulled) -> pa.Table:
    """``table`` with ``pulled`` in its schema metadata (kept when written as Parquet)."""
    metadata = {**(table.schema.metadata or {}), KEY: json.dumps(pulled.to_json()).encode()}
    return table.replace_schema_metadata(metadata)


def file_digest(path: str | Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def write_sidecar(path: str | Path, pulled: Pulled) -> Path:
    """Write ``<path>.source.json`` for the finished file ``path`` (its size and SHA-256)."""
    path = Path(path)
    record = {**pulled.to_json(), "file": path.name, "bytes": path.stat().st_size,
              "sha256": file_digest(path)}
    return write_private_text(sidecar_path(path), json.dumps(record, indent=2) + "\n")


def read_pulled(path: str | Path, side: str) -> Pulled | None:
    """The provenance recorded for ``path``, or None when it records none (a hand export).

    A sidecar whose size or SHA-256 no longer matches the file is ignored with a warning; a
    record of the other side means the files were swapped: ``InputError``.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        pulled = _from_parquet(path)
    else:
        pulled = _from_sidecar(path)
    if pulled is not None and pulled.side != side:
        raise InputError(f"the file was pulled from {pulled.side} ({pulled.url}) but is given "
                         f"as the {side} side", file=str(path),
                         fix=f"Swap the files: pass it as --{pulled.side}")
    return pulled


def _from_parquet(path: Path) -> Pulled | None:
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None  # the reader names what is wrong with the file
    text = metadata.get(KEY)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    return Pulled.from_json(data, f"{path} (Parquet metadata {KEY.decode()})")


def _from_sidecar(path: Path) -> Pulled | None:
    sidecar = sidecar_path(path)
    if not sidecar.is_file() or not path.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        data = None
    pulled = Pulled.from_json(data, str(sidecar))
    if (data.get("bytes") != path.stat().st_size or data.get("sha256") != file_digest(path)):
        log.warning("%s does not describe %s as it is now (changed after the pull): the file "
                    "is read without provenance", sidecar, path)
        return None
    return pulled


def source_record(pulled: dict[str, Pulled | None], files: dict[str, str]) -> dict[str, Any]:
    """``source.json``: per side url (and store), pulled_at and file; pulled_at the older."""
    times = [p.pulled_at for p in pulled.values() if p is not None]
    record: dict[str, Any] = {"pulled_at": utc_text(min(times)) if times else None}
    for side in SIDES:
        p = pulled.get(side)
        block: dict[str, Any] = {"url": p.url if p else None}
        if side == "strivacity":
            block["store"] = p.store if p else None
        block["pulled_at"] = utc_text(p.pulled_at) if p else None
        block["file"] = files.get(side)
        record[side] = block
    return record
