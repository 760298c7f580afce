"""Pull Strivacity accounts through the Admin API into NDJSON and the canonical frame.

Pages are written to NDJSON as they arrive (one ``AccountResponse`` per line, the format
``read_strivacity`` reads), so memory holds one page of JSON at a time; the canonical frame is
then read from that file by the one function that turns Strivacity records canonical. The
file is written beside its target and renamed over it only when the last page is in.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from recon.errors import ConfigError
from recon.fields import DEFAULT_FIELDS, FieldMap
from recon.http import build_session
from recon.private import atomic_path, private_opener
from recon.progress import NullProgress, Progress, make_progress
from recon.provenance import Pulled, write_sidecar
from recon.retry import RetryPolicy
from recon.settings import StrivacitySettings
from recon.strivacity.client import PageSizePages, StrivacityClient, StrivacityTokens

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 200
#: Ordered by an immutable property so page boundaries do not move while reading.
SORT = "createdAt,asc"


def connect(settings: StrivacitySettings, session: Any = None,
            retry: RetryPolicy | None = None) -> StrivacityClient:
    """A client for ``settings`` with its own client-credentials tokens."""
    session = session or build_session(settings.ca_bundle)
    return StrivacityClient(session, StrivacityTokens(settings, session), settings.url, retry)


def since_param(since: str | datetime) -> str:
    """``updatedAtStartDate``: an ISO timestamp, or a signed ISO duration such as ``-P1D``."""
    if isinstance(since, datetime):
        moment = since if since.tzinfo else since.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = since.strip()
    if not text:
        raise ConfigError("since is empty; give an ISO timestamp (2024-03-01T00:00:00Z) or a "
                          "duration such as -P1D.")
    return text


def iter_accounts(client: StrivacityClient, store: str, *, since: str | datetime | None = None,
                  page_size: int = DEFAULT_PAGE_SIZE,
                  progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Every account record of ``store`` (updated since ``since``), each id once."""
    if page_size < 1:
        raise ConfigError(f"page_size={page_size}: give a positive page size.")
    params = {"sort": SORT, **({"updatedAtStartDate": since_param(since)} if since else {})}
    pages = PageSizePages(client.accounts_url(store), params, page_size)
    seen: set[str] = set()
    bar = progress or NullProgress()
    for body in client.pages(pages):
        fresh = [r for r in body if str(r.get("id")) not in seen]
        if len(fresh) != len(body):
            log.warning("skipped %d accounts seen on an earlier page", len(body) - len(fresh))
        seen.update(str(r.get("id")) for r in fresh)
        bar.update(len(fresh))
        yield from fresh


def write_accounts(path: str | Path, records: Iterator[dict[str, Any]]) -> int:
    """Write records as NDJSON (UTF-8, one object a line); return how many."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n", opener=private_opener) as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def pull_strivacity(settings: StrivacitySettings | None = None, *,
                    since: str | datetime | None = None, page_size: int = DEFAULT_PAGE_SIZE,
                    progress: Progress | None = None, session: Any = None,
                    out: str | Path | None = None, fields: FieldMap = DEFAULT_FIELDS,
                    retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Accounts as the canonical Strivacity frame; ``out`` keeps the NDJSON pulled.

    ``out`` is replaced only once every page has arrived (a failed pull leaves the previous
    file as it was), is 0600, and gets a ``<out>.source.json`` naming the tenant, store and
    time of the pull.
    """
    from recon.strivacity.files import empty_strivacity, read_strivacity

    settings = settings or StrivacitySettings.from_env()
    pulled = Pulled("strivacity", settings.url, datetime.now(UTC), store=settings.store,
                    since=since_param(since) if since else None)
    client = connect(settings, session, retry)
    bar = progress or make_progress("Strivacity accounts")
    with tempfile.TemporaryDirectory(prefix="recon-strivacity-") as scratch:
        target = Path(out) if out is not None else Path(scratch) / "accounts.ndjson"
        try:
            with atomic_path(target) as partial:
                count = write_accounts(partial, iter_accounts(
                    client, settings.store, since=since, page_size=page_size, progress=bar))
        finally:
            if progress is None:
                bar.close()
        if out is not None:
            write_sidecar(target, pulled)
        log.info("pulled %d Strivacity accounts from store %s", count, settings.store)
        if count == 0:
            return empty_strivacity(fields, str(target))
        return read_strivacity(target, format="ndjson", fields=fields)
