"""The Strivacity Admin API subset recon uses: token, accounts list/get/create, bulk jobs.

Lists answer a bare JSON array per zero-based page, planned once per query and store generation
so a 200,000-account pull does not rescan the store per page. Errors are problem+json.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from recon.emulator.entra import TokenBook
from recon.emulator.store import AccountStore, EmailConflict, account_emails
from recon.emulator.strivacity_bulk import BulkJobs
from recon.emulator.wire import Request, Response, bearer, json_response, problem

API = "/admin/api/v1"
_ACCOUNTS = re.compile(rf"^{API}/identityStores/([^/]+)/accounts(?:/([^/]+)(/personal)?)?$")
_DURATION = re.compile(r"^([+-])P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_SORTABLE = ("id", "createdAt", "updatedAt", "enabled", "language")


def parse_when(text: str) -> dt.datetime:
    """A list date filter: ISO timestamp, or a duration from now like ``-P7D``."""
    match = _DURATION.match(text.strip())
    if match:
        sign, days, hours, minutes, seconds = match.groups()
        delta = dt.timedelta(days=int(days or 0), hours=int(hours or 0),
                             minutes=int(minutes or 0), seconds=int(seconds or 0))
        now = dt.datetime.now(dt.UTC)
        return now + delta if sign == "+" else now - delta
    stamp = dt.datetime.fromisoformat(text.strip())
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _date_test(field: str, bound: dt.datetime, after: bool) -> Callable[[dict[str, Any]], bool]:
    def test(record: dict[str, Any]) -> bool:
        value = record.get(field)
        if not value:
            return False
        stamp = parse_when(value)
        return stamp >= bound if after else stamp <= bound
    return test


def _email_test(needle: str) -> Callable[[dict[str, Any]], bool]:
    def test(record: dict[str, Any]) -> bool:
        emails = account_emails(record)
        return any(e.endswith(needle) for e in emails) if needle.startswith("@") \
            else needle in emails
    return test


def _account_filter(params: dict[str, list[str]]) -> Callable[[dict[str, Any]], bool]:
    """One predicate for the supported list filters (all must hold)."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for field in ("createdAt", "updatedAt"):
        for edge, after in (("StartDate", True), ("EndDate", False)):
            if params.get(field + edge):
                tests.append(_date_test(field, parse_when(params[field + edge][0]), after))
    if params.get("enabled"):
        wanted = params["enabled"][0].lower() == "true"
        tests.append(lambda r: bool(r.get("enabled")) == wanted)
    if params.get("id"):
        wanted_id = params["id"][0]
        tests.append(lambda r: r.get("id") == wanted_id)
    for name in ("loginIdentifier", "emailNativeClaim"):
        if params.get(name):
            tests.append(_email_test(params[name][0].strip().lower()))
    for name, values in params.items():
        if name.startswith("attribute_") and values:
            tests.append(_attribute_test(name.removeprefix("attribute_"), values[0]))
    return lambda record: all(test(record) for test in tests)


def _attribute_test(path: str, wanted: str) -> Callable[[dict[str, Any]], bool]:
    """``attribute_<path>=value``: the attribute (in accountInfo or local metadata) equals it."""
    def value_in(node: Any) -> Any:
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def test(record: dict[str, Any]) -> bool:
        local = ((record.get("identities") or {}).get("local") or {}).get("metadata")
        return any(str(value_in(root)) == wanted
                   for root in (record.get("accountInfo"), local) if value_in(root) is not None)
    return test


def _sort_key(name: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    return lambda record: (record.get(name) is not None, str(record.get(name) or ""))


class Strivacity:
    """Routes Strivacity requests for one tenant and identity store."""

    def __init__(self, store: AccountStore, base_url: str, client_id: str, client_secret: str,
                 tokens: TokenBook, lifetime: Callable[[], float]) -> None:
        self.store = store
        self.base_url = base_url
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens = tokens
        self._lifetime = lifetime
        self.bulk = BulkJobs(store)
        self._plans: OrderedDict[tuple[Any, ...], list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def handles(self, path: str) -> bool:
        return path == "/oauth2/token" or path.startswith(API + "/")

    def is_token(self, path: str) -> bool:
        return path == "/oauth2/token"

    def handle(self, request: Request) -> Response:
        if request.path == "/oauth2/token":
            return self._token(request)
        if not self.tokens.valid(bearer(request), "strivacity"):
            return problem(401, "Unauthorized", "Full authentication is required. Get a token "
                           "from /oauth2/token and send it as 'Authorization: Bearer'.",
                           "unauthorized", [("WWW-Authenticate", 'Bearer realm="admin"')])
        if request.path.startswith(API + "/bulk"):
            return self.bulk.handle(request, request.path[len(API + "/bulk"):])
        match = _ACCOUNTS.match(request.path)
        if match is None:
            return problem(404, "Not Found", f"No endpoint at {request.path}.", "notfound")
        store, account_id, personal = match.groups()
        if store != self.store.store:
            return problem(404, "Not Found", f"Identity store '{store}' does not exist; use "
                           f"'{self.store.store}'.", "identityStoreNotFound")
        if account_id is None:
            if request.method == "GET":
                return self._list(request)
            if request.method == "POST":
                return self._create(request)
        elif personal and request.method == "PUT":
            return self._personal(request, account_id)
        elif request.method == "GET":
            record = self.store.get(account_id)
            return json_response(200, record) if record else self._missing(account_id)
        return problem(405, "Method Not Allowed", f"{request.method} is not supported here.",
                       "methodNotAllowed")

    def _missing(self, account_id: str) -> Response:
        return problem(404, "Not Found", f"Account '{account_id}' does not exist.",
                       "accountNotFound")

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode()).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, encoded = request.header("authorization").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = ""
        if form.get("grant_type") != "client_credentials":
            return json_response(400, {"error": "unsupported_grant_type",
                                       "error_description": "Use client_credentials."})
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            return json_response(401, {"error": "invalid_client", "error_description":
                                       "Client authentication failed. Check "
                                       "STRIVACITY_CLIENT_ID and STRIVACITY_CLIENT_SECRET."})
        lifetime = int(self._lifetime())
        return json_response(200, {"access_token": self.tokens.issue("strivacity", lifetime),
                                   "expires_in": lifetime, "token_type": "bearer",
                                   "scope": form.get("scope", "read:account write:account")})

    def _plan(self, params: dict[str, list[str]]) -> list[str]:
        """Ids matching the list filters in the requested order, cached per store generation."""
        key = (self.store.generation,
               tuple(sorted((k, tuple(v)) for k, v in params.items() if k not in ("page",
                                                                                   "size"))))
        with self._lock:
            if key in self._plans:
                return self._plans[key]
        keep = _account_filter(params)
        records = [r for r in map(self.store.get, self.store.ids()) if r is not None and keep(r)]
        for item in reversed(params.get("sort", [])):
            name, _, direction = item.partition(",")
            if name not in _SORTABLE:
                raise ValueError(f"sort: '{name}' is not sortable; use one of "
                                 f"{', '.join(_SORTABLE)}.")
            records.sort(key=_sort_key(name), reverse=direction.strip().lower() == "desc")
        ids = [r["id"] for r in records]
        with self._lock:
            self._plans[key] = ids
            while len(self._plans) > 16:
                self._plans.popitem(last=False)
        return ids

    def _list(self, request: Request) -> Response:
        params = request.params()
        try:
            page = int((params.get("page") or ["0"])[0])
            size = int((params.get("size") or ["20"])[0])
            if page < 0 or size < 1:
                raise ValueError("page must be >= 0 and size >= 1.")
            ids = self._plan(params)
        except ValueError as error:
            return problem(400, "Bad Request", f"Invalid list parameters: {error}",
                           "badRequest")
        texts = [t for t in map(self.store.raw, ids[page * size:(page + 1) * size]) if t]
        body = ("[" + ",".join(texts) + "]").encode("utf-8")
        return Response(200, body, [("Content-Type", "application/json")])

    def _create(self, request: Request) -> Response:
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except (ValueError, UnicodeDecodeError) as error:
            return problem(400, "Bad Request", f"Invalid account: {error}.", "badRequest")
        identities = {k: body[k] for k in ("email", "phone", "local") if body.get(k)}
        if not identities:
            return problem(400, "Bad Request", "An account needs an email, phone or local "
                           "identifier.", "identifierRequired")
        metadata = (body.get("local") or {}).get("metadata") or {}
        record = {"language": body.get("language") or "en-US", "identities": identities,
                  "accountInfo": metadata, "organization": body.get("organization")}
        try:
            created = self.store.create(record)
        except EmailConflict as conflict:
            return problem(409, "Conflict", f"An account with the identifier '{conflict}' "
                           "already exists.", "identifierAlreadyExists")
        return json_response(201, created)

    def _personal(self, request: Request, account_id: str) -> Response:
        try:
            attributes = request.json()
        except (ValueError, UnicodeDecodeError):
            return problem(400, "Bad Request", "The body must be JSON attributes.", "badRequest")
        if self.store.get(account_id) is None:
            return self._missing(account_id)
        updated = self.store.update_personal(account_id, attributes or {})
        return json_response(200, updated.get("accountInfo") or {})

