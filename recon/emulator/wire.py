"""Plain request and response values the three emulated services pass around.

Keeping HTTP parsing out of the services lets ``$batch`` replay inner requests through the same
handlers the server uses, and lets tests reason about one shape.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

ODATA_JSON = "application/json; odata.metadata=minimal"
PROBLEM_JSON = "application/problem+json"
DROP = 0


@dataclass
class Request:
    """One HTTP request: ``path`` without the query, ``query`` as the raw query string."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; repeats comma-joined
    body: bytes = b""
    client: str = ""  # the peer's address (per-IP rate limits)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def params(self) -> dict[str, list[str]]:
        """Query parameters (a ``+`` is a space, as servers decode forms)."""
        return urllib.parse.parse_qs(self.query, keep_blank_values=True)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params().get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")


@dataclass
class Response:
    """One HTTP response; ``headers`` may repeat names, so it is a list of pairs.

    Status ``DROP`` (0) is no response: the server closes the connection without answering.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(status: int, payload: Any, content_type: str = "application/json",
                  headers: list[tuple[str, str]] | None = None) -> Response:
    """A JSON response with ``Content-Type`` set."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, [("Content-Type", content_type), *(headers or [])])


def dataverse_error(status: int, code: str, message: str,
                    headers: list[tuple[str, str]] | None = None) -> Response:
    """A Dataverse-shaped error: ``{"error": {"code", "message"}}``."""
    return json_response(status, {"error": {"code": code, "message": message}}, ODATA_JSON,
                         [("OData-Version", "4.0"), *(headers or [])])


def problem(status: int, title: str, detail: str, key: str = "",
            headers: list[tuple[str, str]] | None = None) -> Response:
    """An RFC 7807 problem, the shape of Strivacity's Admin API errors."""
    payload = {"type": "about:blank", "title": title, "status": status, "detail": detail,
               "message": f"error.{key or title.lower().replace(' ', '')}",
               "errorKey": key or title.lower().replace(" ", "")}
    return json_response(status, payload, PROBLEM_JSON, headers)


def bearer(request: Request) -> str | None:
    """The bearer token of a request, if it has one."""
    scheme, _, token = request.header("authorization").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
