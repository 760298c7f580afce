"""Dataverse collection reads: ``$select/$filter/$orderby/$top/$count``, paging and change tracking.

A query is planned once (ids in order, filtered by a compiled predicate) and kept as a cursor;
``$skiptoken`` names the cursor and the position, wrapped like Dataverse's paging cookie. If the
cursor has been dropped, the query is re-planned from the link and resumes after the last id.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from recon.emulator.dataverse_encode import PageCache, RowEncoder
from recon.emulator.odata_filter import (
    FilterError,
    Predicate,
    compile_filter,
    parse_orderby,
    sort_records,
)
from recon.emulator.store import ContactStore
from recon.emulator.wire import ODATA_JSON, Request, Response, dataverse_error

MAX_PAGE = 5000
PLANS_KEPT = 32  # filtered queries remembered per store version (see ``_matching``)
FORMATTED = "OData.Community.Display.V1.FormattedValue"
SYNTAX = "0x80060888"
_OPTION_SETS: dict[str, dict[Any, str]] = {"statecode": {0: "Active", 1: "Inactive"},
                "statuscode": {1: "Active", 2: "Inactive"},
                "donotemail": {True: "Do Not Allow", False: "Allow"}}
_COOKIE = re.compile(r'(\w+)="([^"]*)"')


class QueryError(Exception):
    """A query Dataverse would refuse; carries the ready response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def bad_request(message: str, code: str = SYNTAX) -> QueryError:
    return QueryError(dataverse_error(400, code, message))


def preferences(request: Request) -> dict[str, str]:
    """``Prefer`` values (repeated or comma-joined headers) as name -> unquoted value."""
    found: dict[str, str] = {}
    for item in re.findall(r'(?:[^,"]|"[^"]*")+', request.header("prefer")):
        name, _, value = item.strip().partition("=")
        found[name.strip().lower()] = value.strip().strip('"')
    return found


def formatted(column: str, value: Any) -> str | None:
    """The FormattedValue Dataverse shows for a column value, if it shows one."""
    if value is None:
        return None
    if column in _OPTION_SETS:
        return _OPTION_SETS[column].get(value)
    if column in ("createdon", "modifiedon"):
        stamp = dt.datetime.fromisoformat(value)
        return f"{stamp.month}/{stamp.day}/{stamp.year} {stamp.strftime('%I:%M %p').lstrip('0')}"
    if column == "versionnumber":
        return f"{value:,}"
    return None


@dataclass
class Cursor:
    """A planned query: the ids to page through and how to render them."""

    ids: list[str]
    deleted: frozenset[str]
    select: tuple[str, ...]
    count: int | None
    link_query: str  # the query options to repeat in nextLink/deltaLink
    delta_version: int | None  # the store version a deltaLink should start from
    is_delta: bool


class ContactQueries:
    """Plans, pages and renders ``GET contacts`` and delta requests over a ``ContactStore``."""

    def __init__(self, store: ContactStore, base_url: str) -> None:
        self.store = store
        self.api = f"{base_url}/api/data/v9.2/"
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._delta_tokens: dict[str, int] = {}
        self._lock = threading.Lock()
        self.encoder = RowEncoder(store.index)
        self.pages = PageCache()
        self._plans: OrderedDict[tuple[int, str, str, int | None], list[str]] = OrderedDict()

    def expire_delta_tokens(self) -> None:
        """Make every delta link issued so far unusable (as after ExpireChangeTrackingInDays)."""
        with self._lock:
            self._delta_tokens.clear()

    def get(self, request: Request) -> Response:
        """Answer ``GET contacts?...`` (first page, next page or delta)."""
        try:
            prefer = preferences(request)
            params = request.params()
            if "$skiptoken" in params:
                cursor, offset = self._resume(params)
            elif "$deltatoken" in params:
                cursor, offset = self._plan_delta(params), 0
            else:
                top = _top(params) if "odata.maxpagesize" not in prefer else None
                cursor, offset = self._plan(params, "odata.track-changes" in prefer, top), 0
            return self._page(cursor, offset, prefer, params)
        except QueryError as error:
            return error.response

    def select_columns(self, params: dict[str, list[str]]) -> tuple[str, ...]:
        text = (params.get("$select") or [""])[0]
        names = [n.strip() for n in text.split(",") if n.strip()] or list(self.store.columns)
        for name in names:
            if name not in self.store.index:
                raise bad_request(f"Could not find a property named '{name}' on type "
                                  "'Microsoft.Dynamics.CRM.contact'.")
        return tuple(dict.fromkeys(names))

    def _plan(self, params: dict[str, list[str]], tracking: bool,
              top: int | None = None) -> Cursor:
        if "$skip" in params:
            raise bad_request("The query parameter $skip is not supported. "
                              "Follow @odata.nextLink instead.")
        if tracking:
            for option in ("$filter", "$orderby", "$expand", "$top"):
                if option in params:
                    raise bad_request(f'The "{option}" query parameter isn\'t supported when '
                                      "Change Tracking is enabled.")
        select = self.select_columns(params)
        try:
            predicate = compile_filter(params["$filter"][0], self.store.index) \
                if params.get("$filter") else None
            order = parse_orderby(params["$orderby"][0], self.store.index) \
                if params.get("$orderby") else []
        except FilterError as error:
            raise bad_request(str(error)) from None
        version, ids = self.store.version, self.store.ids()
        if predicate is not None or order:
            ids = self._matching(params, version, predicate, order, top)
        count = len(ids) if (params.get("$count") or [""])[0].lower() == "true" else None
        link = {k: v[0] for k, v in params.items() if k in ("$select", "$filter", "$orderby")}
        return Cursor(ids, frozenset(), select, count, urllib.parse.urlencode(link, safe="$,'"),
                      version if tracking else None, False)

    def _matching(self, params: dict[str, list[str]], version: int,
                  predicate: Predicate | None, order: list[tuple[int, bool]],
                  top: int | None) -> list[str]:
        """Ids passing ``predicate`` in ``order``, remembered per store version.

        Dataverse answers a filtered query from its indexes; the emulator scans every row in
        Python, on the client's machine. ``--streams 8`` asks the same range queries on every
        pull, so the answer is kept until the next write changes the store's version.
        """
        key = (version, (params.get("$filter") or [""])[0], (params.get("$orderby") or [""])[0],
               top)
        with self._lock:
            found = self._plans.get(key)
        if found is not None:
            return list(found)
        records = self.store.records()
        if predicate is not None:
            records = [r for r in records if predicate(r)]
        ids = [r[0] for r in sort_records(records, order, top)]
        with self._lock:
            self._plans[key] = ids
            while len(self._plans) > PLANS_KEPT:
                self._plans.popitem(last=False)
        return list(ids)

    def _plan_delta(self, params: dict[str, list[str]]) -> Cursor:
        token = params["$deltatoken"][0]
        with self._lock:
            since = self._delta_tokens.get(token)
        if since is None:
            raise bad_request("Version stamp associated with the client has expired. "
                              "Please perform a full sync.", "0x80044352")
        version = self.store.version
        changed, gone = self.store.changes_since(since)
        select = self.select_columns(params)
        link = urllib.parse.urlencode({"$select": ",".join(select), "$deltatoken": token},
                                      safe="$,")
        return Cursor(changed + gone, frozenset(gone), select, None, link, version, True)

    def _resume(self, params: dict[str, list[str]]) -> tuple[Cursor, int]:
        cookie = dict(_COOKIE.findall(params["$skiptoken"][0]))
        with self._lock:
            cursor = self._cursors.get(cookie.get("cursor", ""))
        try:
            offset = int(cookie.get("offset", ""))
        except ValueError:
            raise bad_request("The $skiptoken is not valid. Follow @odata.nextLink verbatim.") \
                from None
        if cursor is None:  # dropped from the cache: re-plan and resume after the last id
            cursor = (self._plan_delta(params) if "$deltatoken" in params
                      else self._plan(params, cookie.get("istracking") == "True"))
            last = cookie.get("last", "")
            if last in cursor.ids:
                offset = cursor.ids.index(last) + 1
        return cursor, offset

    def _keep(self, cursor: Cursor) -> str:
        name = secrets.token_hex(8)
        with self._lock:
            self._cursors[name] = cursor
            while len(self._cursors) > 32:
                self._cursors.popitem(last=False)
        return name

    def _page(self, cursor: Cursor, offset: int, prefer: dict[str, str],
              params: dict[str, list[str]]) -> Response:
        applied: list[str] = []
        size = MAX_PAGE
        if "odata.maxpagesize" in prefer:
            try:
                size = max(1, min(MAX_PAGE, int(prefer["odata.maxpagesize"])))
            except ValueError:
                raise bad_request("odata.maxpagesize must be a whole number.") from None
            applied.append(f"odata.maxpagesize={size}")
        elif params.get("$top") and not cursor.is_delta:
            try:
                cursor.ids = cursor.ids[:max(0, int(params["$top"][0]))]
            except ValueError:
                raise bad_request("$top must be a whole number.") from None
        notes = prefer.get("odata.include-annotations", "")
        annotate = FORMATTED in notes or "*" in notes
        if notes:
            applied.append(f'odata.include-annotations="{notes}"')
        if cursor.delta_version is not None:
            applied.append("odata.track-changes")
        chunk = cursor.ids[offset:offset + size]
        links: dict[str, str] = {}
        if offset + size < len(cursor.ids):
            links["@odata.nextLink"] = self._next_link(cursor, offset + size, chunk)
        elif cursor.delta_version is not None:
            links["@odata.deltaLink"] = self._delta_link(cursor)
        headers = [("Content-Type", ODATA_JSON), ("OData-Version", "4.0")]
        if applied:
            headers.append(("Preference-Applied", ",".join(applied)))
        body = _splice(self._head(cursor), self._rows(cursor, chunk, annotate), links)
        return Response(200, body, headers)

    def _head(self, cursor: Cursor) -> dict[str, Any]:
        context = f"{self.api}$metadata#contacts({','.join(cursor.select)})"
        head: dict[str, Any] = {"@odata.context": context + ("/$delta" if cursor.is_delta
                                                              else "")}
        if cursor.count is not None:
            head["@odata.count"] = min(cursor.count, MAX_PAGE)
        return head

    def _rows(self, cursor: Cursor, chunk: list[str], annotate: bool) -> bytes:
        """The page's rows as comma-joined JSON text; plain pages are kept by ``self.pages``."""
        if not cursor.deleted and not annotate:
            version = self.store.version  # before the rows: see PageCache
            return self.pages.get(version, cursor.select, chunk, lambda: b",".join(
                self.encoder.encode(self.store.records_of(chunk), cursor.select)))
        rows = []
        for key in chunk:
            if key in cursor.deleted:
                rows.append({"@odata.context": f"{self.api}$metadata#contacts/$deletedEntity",
                             "id": key, "reason": "deleted"})
                continue
            record = self.store.record(key)
            if record is not None:
                rows.append(self.render(record, cursor.select, annotate))
        return b",".join(json.dumps(row, ensure_ascii=False).encode() for row in rows)

    def render(self, record: tuple[Any, ...], select: tuple[str, ...],
               annotate: bool = False) -> dict[str, Any]:
        """One row as the Web API sends it: etag, the selected columns, then the primary key."""
        index = self.store.index
        row: dict[str, Any] = {"@odata.etag": f'W/"{record[index["versionnumber"]]}"'}
        for name in select:
            value = record[index[name]]
            if annotate and (shown := formatted(name, value)) is not None:
                row[f"{name}@{FORMATTED}"] = shown
            row[name] = value
        row["contactid"] = record[0]
        return row

    def _next_link(self, cursor: Cursor, offset: int, chunk: list[str]) -> str:
        name = self._keep(cursor)
        tracking = "True" if cursor.delta_version is not None else "False"
        cookie = (f'<cookie pagenumber="{offset // max(1, len(chunk)) + 1}" cursor="{name}" '
                  f'offset="{offset}" last="{chunk[-1] if chunk else ""}" '
                  f'istracking="{tracking}" />')
        query = "&".join(filter(None, [cursor.link_query,
                                       "$skiptoken=" + urllib.parse.quote(cookie, safe="")]))
        return f"{self.api}contacts?{query}"

    def _delta_link(self, cursor: Cursor) -> str:
        version = cursor.delta_version or 0
        token = f"{version}!{time.strftime('%m/%d/%Y %H:%M:%S', time.gmtime())}"
        with self._lock:
            self._delta_tokens[token] = version
        select = urllib.parse.urlencode({"$select": ",".join(cursor.select)}, safe="$,")
        return f"{self.api}contacts?{select}&$deltatoken={urllib.parse.quote(token, safe='')}"


def _top(params: dict[str, list[str]]) -> int | None:
    """``$top`` as a number, or None when absent or not a number (``_page`` reports that)."""
    try:
        return max(0, int(params["$top"][0])) if params.get("$top") else None
    except ValueError:
        return None


def _splice(head: dict[str, Any], rows: bytes, tail: dict[str, Any]) -> bytes:
    """``{**head, "value": [rows], **tail}`` as UTF-8 JSON, ``rows`` already encoded and joined."""
    after = "," + json.dumps(tail, ensure_ascii=False)[1:] if tail else "}"
    return b"".join([json.dumps(head, ensure_ascii=False)[:-1].encode(), b',"value":[',
                     rows, b"]", after.encode()])
