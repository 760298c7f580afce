"""Refusals before anything is sent: a stale run folder, or one pulled from another tenant.

A run's age comes from ``source.json`` (``pulled_at``), else ``run.json`` (``started``), else
the mtime of ``summary.json``. The source it was pulled from comes from ``source.json``
(written by ``record_source`` for live runs and ``record_pulled`` from the provenance of pulled
files) or a ``targets`` block in ``run.json``; when neither says, apply cannot vouch for the
target and asks for ``--force``.

Two more refusals: ``check_settings`` (``--execute`` without every variable it needs, all
named at once; a dry run needs none) and ``check_changes``, the blast-radius guard: more
operations than ``max(100, 10 % of the target side's records)`` (from ``summary.json``) is
refused unless ``--max-changes`` allows them. ``--force`` does not lift it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recon.apply.plan import DYNAMICS, STRIVACITY
from recon.errors import ConfigError, InputError
from recon.private import write_private_text
from recon.provenance import Pulled, source_record, utc_text
from recon.runfolder import RUN_FILE, SOURCE_FILE, SUMMARY_FILE
from recon.settings import VARIABLES

#: The blast-radius default: at least this many changes are always allowed ...
CHANGES_FLOOR = 100
#: ... and above it, this share of the target side's records.
CHANGES_SHARE = 0.10
#: The variables ``--execute`` needs per target; a group of several needs one of them.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    DYNAMICS: (("DATAVERSE_URL",), ("AZURE_TENANT_ID",), ("AZURE_CLIENT_ID",),
               ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH")),
    STRIVACITY: (("STRIVACITY_URL",), ("STRIVACITY_CLIENT_ID",), ("STRIVACITY_CLIENT_SECRET",)),
}


def record_source(run_dir: str | Path, *, dataverse_url: str | None = None,
                  strivacity_url: str | None = None, strivacity_store: str | None = None,
                  pulled_at: datetime | None = None) -> Path:
    """Write ``source.json``: which tenant a run was pulled from and when (for apply's guards)."""
    when = pulled_at or datetime.now(UTC)
    return record_pulled(run_dir, {
        "dynamics": Pulled("dynamics", dataverse_url, when) if dataverse_url else None,
        "strivacity": Pulled("strivacity", strivacity_url, when, store=strivacity_store)
        if strivacity_url else None}, pulled_at=when)


def record_pulled(run_dir: str | Path, pulled: dict[str, Pulled | None],
                  files: dict[str, str] | None = None, *,
                  pulled_at: datetime | None = None) -> Path:
    """Write ``source.json`` from each side's provenance (None: that side records none)."""
    record = source_record(pulled, files or {})
    if record["pulled_at"] is None and pulled_at is not None:
        record["pulled_at"] = utc_text(pulled_at)
    return write_private_text(Path(run_dir) / SOURCE_FILE, json.dumps(record, indent=2) + "\n")


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg})", file=str(path), line=exc.lineno,
                         fix="Fix or delete the file.") from exc
    return value if isinstance(value, dict) else {}


def _stamp(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def run_time(run_dir: Path) -> tuple[datetime, str]:
    """When the run's data was read, and where that came from."""
    source, run = _json(run_dir / SOURCE_FILE), _json(run_dir / RUN_FILE)
    for when, where in ((_stamp(source.get("pulled_at")), "source.json pulled_at"),
                        (_stamp(run.get("started")), "run.json started")):
        if when is not None:
            return when, where
    summary = run_dir / SUMMARY_FILE
    if not summary.is_file():
        raise InputError("no summary.json: this is not a run folder", file=str(run_dir),
                         fix="Point apply at a folder written by `recon reconcile`/`report`.")
    return datetime.fromtimestamp(summary.stat().st_mtime, UTC), "summary.json mtime"


def source_url(run_dir: Path, target: str) -> str | None:
    """The URL the run's ``target`` side was pulled from, if the run folder records it."""
    source = _json(run_dir / SOURCE_FILE).get(target) or {}
    run = ((_json(run_dir / RUN_FILE).get("targets") or {}).get(target)) or {}
    url = source.get("url") or run.get("url")
    return str(url).rstrip("/") if url else None


def check_age(run_dir: Path, max_age_hours: float, now: datetime | None = None) -> str:
    """Refuse a run older than ``max_age_hours``; returns the age for the operator."""
    when, where = run_time(run_dir)
    hours = ((now or datetime.now(UTC)) - when).total_seconds() / 3600
    if hours > max_age_hours:
        raise ConfigError(f"{run_dir} is {hours:.1f} h old ({where}), older than "
                          f"--max-age {max_age_hours:g} h: its etags and records are likely "
                          "stale. Reconcile again, or pass --force to apply it anyway.")
    return f"{hours:.1f} h old ({where})"


def check_target(run_dir: Path, target: str, url: str) -> str:
    """Refuse a run pulled from another tenant than ``url``, or one that does not say."""
    recorded = source_url(run_dir, target)
    if recorded is None:
        raise ConfigError(f"{run_dir} does not record which {target} tenant it was pulled from "
                          f"(no {SOURCE_FILE}), so apply cannot check it matches {url}. Check "
                          "by hand, then pass --force.")
    if recorded.lower() != url.rstrip("/").lower():
        raise ConfigError(f"{run_dir} was pulled from {recorded}, but the configured {target} "
                          f"is {url}. Point the settings at {recorded}, or pass --force.")
    return f"pulled from {recorded}"


def check_store(run_dir: Path, store: str) -> str:
    """Refuse a Strivacity run made for another identity store than ``store``: creates go to
    the configured store, bulk lines to the store each line names, so all must agree."""
    recorded = (_json(run_dir / SOURCE_FILE).get("strivacity") or {}).get("store")
    stores = sorted(_line_stores(run_dir / "batches" / "update_strivacity.ndjson"))
    others = [s for s in ([recorded] if recorded else []) + stores if s != store]
    if others:
        where = f"pulled from store {recorded!r}" if recorded and recorded != store else \
            f"its update_strivacity lines name store(s) {', '.join(map(repr, stores))}"
        raise ConfigError(f"{run_dir} was made for another identity store: {where}, but "
                          f"STRIVACITY_STORE is {store!r}. Set STRIVACITY_STORE to the run's "
                          "store, reconcile again for this one, or pass --force.")
    return f"identity store {store!r}"


def _line_stores(path: Path) -> set[str]:
    """The ``identityStore`` values the bulk lines name (a bad line is plan.py's to report)."""
    if not path.is_file():
        return set()
    found = set()
    with path.open(encoding="utf-8") as lines:
        for text in lines:
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and isinstance(value.get("identityStore"), str):
                found.add(value["identityStore"])
    return found


def check_settings(target: str, env: Mapping[str, str] | None = None) -> None:
    """Refuse ``--execute`` when any variable it needs is unset, naming every one of them."""
    env = os.environ if env is None else env
    missing = [group for group in REQUIRED[target]
               if not any((env.get(name) or "").strip() for name in group)]
    if missing:
        names = "; ".join(f"{' or '.join(group)} ({VARIABLES[group[0]]})" for group in missing)
        raise ConfigError(f"apply --execute to {target} needs settings that are not set: "
                          f"{names}. Export them (README, 'Connecting to a real tenant'); a "
                          "dry run, without --execute, needs none.")


def change_limit(run_dir: Path, target: str) -> tuple[int, str]:
    """The default most changes one apply may make to ``target``, and how it was reached."""
    records = (_json(run_dir / SUMMARY_FILE).get(target) or {}).get("records")
    if not isinstance(records, int) or isinstance(records, bool) or records < 0:
        return CHANGES_FLOOR, (f"summary.json does not say how many {target} records there "
                               f"are, so the floor of {CHANGES_FLOOR}")
    share = math.ceil(records * CHANGES_SHARE)
    return max(CHANGES_FLOOR, share), (f"the larger of {CHANGES_FLOOR} and "
                                       f"{CHANGES_SHARE:.0%} of the {records} {target} "
                                       "records in summary.json")


def check_changes(run_dir: Path, target: str, changes: int,
                  max_changes: int | None = None) -> str:
    """Refuse a plan of more than the limit's changes (the blast-radius guard)."""
    limit, why = (max_changes, "--max-changes") if max_changes is not None \
        else change_limit(run_dir, target)
    if changes > limit:
        raise ConfigError(f"{run_dir}: this apply would make {changes} changes to {target}, "
                          f"more than the limit of {limit} ({why}). So large a batch often "
                          "comes from an empty, partial or wrong export: check summary.json "
                          f"and the batches, then pass --max-changes {changes} to allow it.")
    return f"{changes} changes, within the limit of {limit} ({why})"
