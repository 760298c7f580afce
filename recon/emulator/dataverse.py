"""The Dataverse Web API subset recon uses, under ``/api/data/v9.2/``.

Reads live in ``dataverse_query`` and ``$batch`` in ``dataverse_batch``; this module routes,
checks the bearer token and does single-record reads and writes with ETag preconditions.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from recon.emulator.dataverse_query import ContactQueries, QueryError, bad_request, preferences
from recon.emulator.dataverse_security import DEFAULT_PRIVILEGES, user_privileges
from recon.emulator.entra import TokenBook
from recon.emulator.store import MAX_LENGTHS, READ_ONLY_COLUMNS, ContactStore, contact_key
from recon.emulator.wire import (
    ODATA_JSON,
    Request,
    Response,
    bearer,
    dataverse_error,
    json_response,
)

PREFIX = "/api/data/v9.2/"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ENTITY = re.compile(r"^contacts\((.*)\)$")
NOT_FOUND = "0x80040217"
STALE = "0x80060882"
EXISTS = "0x80040237"
VALIDATION = "0x80044331"


def _odata_headers(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [("OData-Version", "4.0"), *extra]


class Dataverse:
    """Routes Web API requests for one organisation to its contact store."""

    def __init__(self, store: ContactStore, base_url: str, tokens: TokenBook,
                 authorize_url: str) -> None:
        self.store = store
        self.base_url = base_url
        self.tokens = tokens
        self.authorize_url = authorize_url
        self.queries = ContactQueries(store, base_url)
        #: The application user's privileges (name -> depth) that recon check asks about.
        self.privileges = dict(DEFAULT_PRIVILEGES)

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX) or path == PREFIX.rstrip("/")

    def handle(self, request: Request) -> Response:
        """Serve one request from the network: the bearer token must be current."""
        if not self.tokens.valid(bearer(request), "dataverse"):
            challenge = (f"Bearer authorization_uri={self.authorize_url}, "
                         f"resource_id={self.base_url}/")
            return dataverse_error(401, "0x80072560", "The user is not authenticated. Acquire "
                                   "a new access token and send it as 'Authorization: Bearer'.",
                                   [("WWW-Authenticate", challenge)])
        if request.path.endswith("/$batch"):
            from recon.emulator.dataverse_batch import run_batch  # circular: batch replays here
            return run_batch(self, request)
        return self.dispatch(request)

    def dispatch(self, request: Request) -> Response:
        """Serve one already-authorised request (also used for the parts of a ``$batch``)."""
        segment = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else ""
        try:
            if segment == "contacts":
                if request.method == "GET":
                    return self.queries.get(request)
                if request.method == "POST":
                    return self._create(request)
            elif segment == "WhoAmI" and request.method == "GET":
                return json_response(200, {"UserId": str(uuid.UUID(int=1)),
                                           "BusinessUnitId": str(uuid.UUID(int=2)),
                                           "OrganizationId": str(uuid.UUID(int=3))}, ODATA_JSON)
            elif request.method == "GET" and (answer := user_privileges(
                    segment, request, self.privileges, self.base_url)) is not None:
                return answer
            elif match := _ENTITY.match(segment):
                key = self._key(match.group(1))
                handler = {"GET": self._read, "PATCH": self._patch,
                           "DELETE": self._delete}.get(request.method)
                if handler is not None:
                    return handler(request, key)
            else:
                return dataverse_error(404, "0x8006088a",
                                       f"Resource not found for the segment '{segment}'.")
        except QueryError as error:
            return error.response
        return dataverse_error(405, "0x80060888",
                               f"The HTTP method '{request.method}' is not allowed here.")

    def _key(self, text: str) -> str:
        if "=" in text:
            raise bad_request("The key in the request URI is not valid for resource "
                              "'Microsoft.Dynamics.CRM.contact'. Ensure that the names and number"
                              " of key properties are correct.", "0x80060888")
        key = contact_key(text)
        if not _GUID.match(key):
            raise bad_request(f"Bad Request - Error in query syntax: '{text}' is not a GUID.")
        return key

    def entity_url(self, key: str) -> str:
        return f"{self.base_url}{PREFIX}contacts({key})"

    def _missing(self, key: str) -> Response:
        return dataverse_error(404, NOT_FOUND, f"contact With Id = {key} Does Not Exist")

    def _read(self, request: Request, key: str) -> Response:
        record = self.store.record(key)
        if record is None:
            return self._missing(key)
        etag = f'W/"{record[self.store.index["versionnumber"]]}"'
        if request.header("if-none-match") == etag:
            return Response(304, b"", _odata_headers(("ETag", etag)))
        return self._entity(200, record, request, ("ETag", etag))

    def _entity(self, status: int, record: tuple[Any, ...], request: Request,
                *extra: tuple[str, str]) -> Response:
        select = self.queries.select_columns(request.params())
        notes = preferences(request).get("odata.include-annotations", "")
        row = self.queries.render(record, select, "FormattedValue" in notes or "*" in notes)
        body = {"@odata.context": f"{self.base_url}{PREFIX}$metadata#contacts"
                                  f"({','.join(select)})/$entity", **row}
        return json_response(status, body, ODATA_JSON, _odata_headers(*extra))

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise bad_request("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        for name, value in body.items():
            if "@" in name:
                continue
            if name not in self.store.index:
                raise bad_request(f"Invalid property '{name}' was found in entity "
                                  "'Microsoft.Dynamics.CRM.contact'.")
            limit = MAX_LENGTHS.get(name)
            if limit and isinstance(value, str) and len(value) > limit:
                raise bad_request(f"A validation error occurred.  The length of the '{name}' "
                                  "attribute of the 'contact' entity exceeded the maximum "
                                  f"allowed length of '{limit}'.", VALIDATION)
        return {k: v for k, v in body.items() if "@" not in k and k not in READ_ONLY_COLUMNS}

    def _written(self, request: Request, row: dict[str, Any], created: bool) -> Response:
        key = row["contactid"]
        etag = f'W/"{row["versionnumber"]}"'
        if "return" in preferences(request) and preferences(request)["return"] == \
                "representation":
            record = self.store.record(key)
            if record is not None:
                return self._entity(201 if created else 200, record, request, ("ETag", etag),
                                    ("Preference-Applied", "return=representation"))
        return Response(204, b"", _odata_headers(("OData-EntityId", self.entity_url(key)),
                                                 ("ETag", etag)))

    def _create(self, request: Request, key: str | None = None) -> Response:
        body = self._body(request)
        body.pop("statecode", None)  # statecode is not valid for create; new contacts are active
        if key is not None:
            body["contactid"] = key
        try:
            row = self.store.create(body)
        except KeyError:
            return dataverse_error(412, EXISTS, "A record with matching key values already "
                                   "exists.")
        return self._written(request, row, created=True)

    def _patch(self, request: Request, key: str) -> Response:
        if_match, if_none = request.header("if-match"), request.header("if-none-match")
        with self.store.lock:
            record = self.store.record(key)
            if record is None:
                if if_match:
                    return self._missing(key)
                return self._create(request, key)
            if if_none == "*":
                return dataverse_error(412, EXISTS, "A record with matching key values already "
                                       "exists.")
            if if_match and not self._etag_matches(if_match, record):
                return self._stale()
            row = self.store.update(key, self._body(request))
        return self._written(request, row, created=False)

    def _delete(self, request: Request, key: str) -> Response:
        with self.store.lock:
            record = self.store.record(key)
            if record is None:
                return self._missing(key)
            if request.header("if-match") and not self._etag_matches(request.header("if-match"),
                                                                    record):
                return self._stale()
            self.store.delete(key)
        return Response(204, b"", _odata_headers())

    def _etag_matches(self, if_match: str, record: tuple[Any, ...]) -> bool:
        current = f'W/"{record[self.store.index["versionnumber"]]}"'
        return any(tag.strip() in ("*", current) for tag in if_match.split(","))

    def _stale(self) -> Response:
        return dataverse_error(412, STALE, "The version of the existing record doesn't match the "
                               "RowVersion property provided.")


def parse_body(response: Response) -> Any:
    """The JSON body of a response (for tests and batch parts)."""
    return json.loads(response.body) if response.body else None
