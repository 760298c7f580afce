"""Pull Dataverse contacts into the canonical frame: full, parallel, or by change tracking.

Each page's rows become a compact Arrow chunk (text columns) before the next page is fetched,
so memory grows with the rows, not with the JSON. ``streams=N`` splits the table into
``createdon`` ranges pulled concurrently; ``delta=FILE`` continues a change-tracking chain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.dynamics import delta as tracking
from recon.dynamics import odata
from recon.dynamics.auth import MsalTokenSource
from recon.dynamics.client import (
    MAX_PAGE_SIZE,
    DataverseClient,
    NextLinkPages,
    page_size_preference,
)
from recon.dynamics.frame import to_canonical
from recon.dynamics.pages import ArrowPages, PageTables, memory_pool, rows_to_table
from recon.dynamics.raw_files import raw_writer, write_raw
from recon.errors import ConfigError, HttpError
from recon.fields import DEFAULT_FIELDS, FieldMap
from recon.http import PageRequest, build_session
from recon.progress import NullProgress, Progress, make_progress
from recon.provenance import Pulled
from recon.retry import RetryPolicy
from recon.settings import DataverseSettings

log = logging.getLogger(__name__)

ENTITY_SET = "contacts"
ID, ETAG, CREATED = "contactid", "@odata.etag", "createdon"
#: Columns pulled besides the mapped ones: keys, secondary emails, times, version, phones.
BASE_COLUMNS = ("contactid", "emailaddress1", "emailaddress2", "emailaddress3", "telephone1",
                "statecode", "createdon", "modifiedon", "versionnumber")
TRACK = "odata.track-changes"


@dataclass(frozen=True)
class Chunked:
    """What one paged read produced: rows as Arrow, ids reported deleted, the last delta link."""

    table: pa.Table
    deleted: tuple[str, ...] = ()
    delta_link: str | None = None


def select_columns(fields: FieldMap = DEFAULT_FIELDS) -> tuple[str, ...]:
    """The ``$select`` list: base columns then mapped ones, each once."""
    return tuple(dict.fromkeys([*BASE_COLUMNS, *(f.dynamics for f in fields.fields)]))


def read_pages(client: DataverseClient, start: PageRequest, columns: Sequence[str],
               progress: Progress, *, track: bool = False,
               decode: ArrowPages | None = None) -> Chunked:
    """Follow ``@odata.nextLink`` from ``start``, turning each page into an Arrow chunk.

    ``decode`` (shared by parallel streams) parses bodies in C; tracked reads use ``json``.
    """
    pages = NextLinkPages(start)
    prefer = [page_size_preference(client.page_size), *([TRACK] if track else [])]
    chunks, deleted = [], []
    to_table = PageTables(columns)
    # Change tracking mixes deleted-row markers into pages: those take the json path.
    decode = None if track else decode or ArrowPages(columns)
    for body in client.pages(pages, prefer, decode):
        rows = body.pop("value", [])
        if isinstance(rows, pa.Table):
            chunks.append(rows)
            progress.update(rows.num_rows)
            del body, rows
            continue
        live = rows
        if track:  # only change tracking reports deleted rows
            live = [r for r in rows if not _is_deleted(r)]
            deleted += [str(r["id"]) for r in rows if _is_deleted(r)]
        chunks.append(to_table(live))
        progress.update(len(live))
        del body, rows, live  # the JSON goes before the next page arrives
    table = pa.concat_tables(chunks) if chunks else rows_to_table([], columns)
    return Chunked(table, tuple(deleted), pages.delta_link)


def _is_deleted(row: dict[str, Any]) -> bool:
    return row.get("reason") == "deleted" or \
        str(row.get("@odata.context", "")).endswith("$deletedEntity")


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow rows as a pandas frame of STRING columns, one row per contactid.

    Dataverse paging is dynamic (reference §2.4): a row edited mid-scan can show up twice; the
    last copy wins and the drop is logged.
    """
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)  # no copy: the frame wraps the table
    if not _has_repeats(table.column(ID)):
        return frame  # the usual case, found in Arrow: pandas' hashing doubled the peak
    seen = frame.duplicated(ID, keep="last")
    log.warning("dropped %d duplicate contact rows seen twice while paging", int(seen.sum()))
    return frame[~seen].reset_index(drop=True)


def _has_repeats(ids: pa.ChunkedArray) -> bool:
    """Whether an id (a missing one included) occurs twice."""
    return pc.count_distinct(ids, mode="all", memory_pool=memory_pool()).as_py() < len(ids)


def connect(settings: DataverseSettings, session: Any = None, *, streams: int = 1,
            retry: RetryPolicy | None = None, page_size: int = MAX_PAGE_SIZE) -> DataverseClient:
    """A client for ``settings`` with msal tokens over one shared session."""
    session = session or build_session(settings.ca_bundle, streams=streams)
    return DataverseClient(session, MsalTokenSource(settings, session), settings.url, retry,
                           page_size=page_size)


def pull_dynamics_raw(settings: DataverseSettings | None = None, *,
                      fields: FieldMap = DEFAULT_FIELDS, streams: int = 1,
                      delta: str | Path | None = None, progress: Progress | None = None,
                      session: Any = None, retry: RetryPolicy | None = None,
                      page_size: int = MAX_PAGE_SIZE,
                      out: str | Path | None = None) -> pd.DataFrame:
    """All contacts as raw rows (logical names, text), one row per contact.

    ``streams`` > 1 pulls createdon ranges in parallel; ``delta`` names a state file that
    continues change tracking (deleted ids land in ``frame.attrs["deleted"]``). ``retry`` and
    ``page_size`` (at most 5000) tune the HTTP side; tests pass a no-wait policy. ``out``
    keeps the rows (``write_raw``: whole or not at all, with the tenant and time).
    """
    if out is not None:
        raw_writer(out)  # an unknown extension fails before the pull, not after it
    if streams < 1:
        raise ConfigError(f"streams={streams}: give 1 or more parallel streams.")
    if delta is not None and streams > 1:
        raise ConfigError("Change tracking cannot filter by createdon, so --delta and "
                          "--streams > 1 do not mix. Drop one of them.")
    settings = settings or DataverseSettings.from_env()
    pulled = Pulled("dynamics", settings.url, datetime.now(UTC))
    client = connect(settings, session, streams=streams, retry=retry, page_size=page_size)
    columns = select_columns(fields)
    bar = progress or make_progress("Dataverse contacts")
    try:
        if delta is not None:
            raw = _pull_tracked(client, Path(delta), columns, bar)
        elif streams > 1:
            raw = _pull_parallel(client, columns, streams, bar)
        else:
            raw = to_frame(read_pages(client, _query(client, columns), columns, bar).table)
    finally:
        if progress is None:
            bar.close()
    if out is not None:
        write_raw(raw, out, pulled)
    return raw


def pull_dynamics(settings: DataverseSettings | None = None, *,
                  fields: FieldMap = DEFAULT_FIELDS, streams: int = 1,
                  delta: str | Path | None = None, progress: Progress | None = None,
                  session: Any = None, retry: RetryPolicy | None = None,
                  page_size: int = MAX_PAGE_SIZE,
                  out: str | Path | None = None) -> pd.DataFrame:
    """All contacts as the canonical Dynamics frame (see ``pull_dynamics_raw``; ``out`` keeps
    the raw rows)."""
    settings = settings or DataverseSettings.from_env()
    raw = pull_dynamics_raw(settings, fields=fields, streams=streams, delta=delta,
                            progress=progress, session=session, retry=retry,
                            page_size=page_size, out=out)
    frame = to_canonical(raw, fields, source=f"{settings.url}{ENTITY_SET}")
    frame.attrs["deleted"] = raw.attrs.get("deleted", ())
    return frame


def _query(client: DataverseClient, columns: Iterable[str], filter_: str = "",
           **extra: str) -> PageRequest:
    params = {"$select": odata.select(columns), **({"$filter": filter_} if filter_ else {}),
              **extra}
    return PageRequest(client.url(ENTITY_SET), params)


def _pull_tracked(client: DataverseClient, state_path: Path, columns: Sequence[str],
                  progress: Progress) -> pd.DataFrame:
    """Continue the delta chain in ``state_path``, or start one with a full tracked pull."""
    state = tracking.load_state(state_path)
    raw: pd.DataFrame | None = None
    deleted: tuple[str, ...] = ()
    if state is not None and state.continues(client.api, columns):
        try:
            got = read_pages(client, PageRequest(state.delta_link), columns, progress,
                             track=True)
        except HttpError as exc:
            if exc.status is None or not 400 <= exc.status < 500 or exc.status in (401, 403):
                raise
            tracking.warn_fallback(state_path, f"HTTP {exc.status}")
        else:
            deleted = got.deleted
            raw = tracking.apply_changes(tracking.read_snapshot(state), to_frame(got.table),
                                         deleted)
    if raw is None:
        got = read_pages(client, _query(client, columns), columns, progress, track=True)
        raw = to_frame(got.table)
    if not got.delta_link:
        raise HttpError("Dataverse sent no @odata.deltaLink: change tracking is off for "
                        "contacts. Enable it on the table or pull without --delta.")
    tracking.save_state(state_path, got.delta_link, client.api, columns, raw)
    raw.attrs["deleted"] = deleted
    log.info("delta pull: %d rows, %d deleted since the last pull", len(raw), len(deleted))
    return raw


def _pull_parallel(client: DataverseClient, columns: Sequence[str], streams: int,
                   progress: Progress) -> pd.DataFrame:
    """Pull createdon ranges concurrently: the same rows as one stream, in range order.

    The pages are joined as they came (no copy): the first page, then each range in turn,
    so the order is the same on every run.
    """
    decode = ArrowPages(columns)
    with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="recon-pull") as pool:
        head = _earliest_page(client, columns, pool, decode)
        progress.update(head.table.num_rows)
        parts = [head.table, *pool.map(
            lambda f: read_pages(client, _query(client, columns, f), columns, progress,
                                 decode=decode).table, _filters_after(head, streams))]
    return to_frame(pa.concat_tables(parts))


@dataclass(frozen=True)
class _Head:
    """The rows created before ``cut`` and the latest createdon; ``complete``: every dated row.

    ``cut`` is None when the page is complete, or (never seen) empty with more to come.
    """

    table: pa.Table
    cut: datetime | None
    high: datetime | None
    complete: bool = False


def _earliest_page(client: DataverseClient, columns: Sequence[str], pool: ThreadPoolExecutor,
                   decode: ArrowPages) -> _Head:
    """The first page in createdon order and the latest createdon, asked for together.

    The round trip that finds where the ranges end also brings a page of rows, so the ranges
    start after it. Rows sharing the page's last createdon are left to the ranges, which
    begin at that instant: ties cannot be split between the page and a range.
    """
    dated = f"{CREATED} ne null"
    earliest = _query(client, columns, dated, **{"$orderby": f"{CREATED} asc"})
    latest = _query(client, [CREATED], dated, **{"$orderby": f"{CREATED} desc", "$top": "1"})
    prefer = [page_size_preference(client.page_size)]
    page, last = pool.map(lambda args: client.get_json(*args),
                          [(earliest, prefer, decode), (latest, ())])
    rows = page.get("value", [])
    table = rows if isinstance(rows, pa.Table) else rows_to_table(rows, columns)
    newest = last.get("value", [])
    high = pd.Timestamp(newest[0][CREATED]).to_pydatetime() if newest else None
    if not page.get("@odata.nextLink"):
        return _Head(table, None, high, complete=True)
    if table.num_rows == 0:
        return _Head(table, None, high)
    created = table.column(CREATED)
    edge = created[-1]
    return _Head(table.slice(0, pc.index(created, edge).as_py()),
                 pd.Timestamp(edge.as_py()).to_pydatetime(), high)


def _filters_after(head: _Head, streams: int) -> list[str]:
    """The queries that bring every row ``head`` lacks, no more of them than ``streams``."""
    undated = odata.is_null(CREATED)
    if head.complete:
        return [undated]
    if head.cut is None:  # an empty first page with more to come: one query for the rest
        return [odata.any_of([f"{CREATED} ne null", undated])]
    filters = range_filters(head.cut, head.high or head.cut, streams)
    # Rows without a createdon ride with the first range: a query more than there are
    # streams would wait for a free one and add a round trip at the end.
    filters[0] = odata.any_of([odata.all_of([odata.ge(CREATED, head.cut), filters[0]]),
                               undated])
    return filters


def range_filters(low: datetime, high: datetime, streams: int) -> list[str]:
    """``streams`` createdon filters covering everything not null, without overlap.

    The first range is open below and the last open above, so rows created while pulling and
    rounding at the edges are never lost.
    """
    if streams <= 1 or high <= low:
        return [f"{CREATED} ne null"]
    step = (high - low) / streams
    cuts = [low + step * i for i in range(1, streams)]
    filters = [odata.lt(CREATED, cuts[0])]
    filters += [odata.all_of([odata.ge(CREATED, a), odata.lt(CREATED, b)])
                for a, b in zip(cuts, cuts[1:], strict=False)]
    return [*filters, odata.ge(CREATED, cuts[-1])]


def lookup(email: str, settings: DataverseSettings | None = None, *, session: Any = None,
           retry: RetryPolicy | None = None) -> pd.DataFrame:
    """Contacts whose ``emailaddress1`` equals ``email`` (Dataverse: case-insensitive).

    Returns contactid, emailaddress1, firstname, lastname; the value is quoted by
    ``odata.quote`` so no email can widen the filter.
    """
    settings = settings or DataverseSettings.from_env()
    client = connect(settings, session, retry=retry)
    columns = ("contactid", "emailaddress1", "firstname", "lastname")
    request = _query(client, columns, odata.eq("emailaddress1", email))
    table = read_pages(client, request, columns, NullProgress()).table
    return to_frame(table.drop_columns([ETAG]))
