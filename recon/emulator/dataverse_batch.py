"""Dataverse ``$batch``: multipart/mixed requests, atomic changesets, ``odata.continue-on-error``.

Parts are replayed through ``Dataverse.dispatch``. Failures follow Dataverse, not the OData
spec text: without continue-on-error the batch stops at the first failure (outer 400, the parts
so far); a failed changeset is rolled back and answered as a ``changesetresponse`` holding only
the failing part.
"""

from __future__ import annotations

import http
import re
import urllib.parse
import uuid
from dataclasses import dataclass

from recon.emulator.dataverse import PREFIX, Dataverse
from recon.emulator.dataverse_query import preferences
from recon.emulator.wire import Request, Response, dataverse_error
from recon.multipart import part_headers, split_multipart

MAX_OPERATIONS = 1000
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass
class Part:
    """One inner request and the ``Content-ID`` it carried."""

    request: Request
    content_id: str | None


def _inner_request(text: str, content_id: str | None, ids: dict[str, str]) -> Part:
    """Parse an ``application/http`` body into a request, resolving ``$n`` references."""
    head, _, body = text.partition("\n\n")
    line, _, header_block = head.partition("\n")
    method, url, *_ = (line.split() + ["", ""])[:3]
    if url.startswith("$"):
        ref, _, rest = url[1:].partition("/")
        if ref not in ids:
            raise ValueError(f"Content-ID Reference: '${ref}' does not exist in the batch "
                             "context.")
        url = ids[ref] + ("/" + rest if rest else "")
    parts = urllib.parse.urlsplit(url)
    path = parts.path if parts.path.startswith("/") else PREFIX + parts.path
    request = Request(method.upper(), path, parts.query, part_headers(header_block),
                      body.rstrip("\n").encode("utf-8"))
    return Part(request, content_id)


def _render(response: Response, content_id: str | None) -> str:
    reason = http.HTTPStatus(response.status).phrase
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    return "\r\n".join(lines) + "\r\n\r\n" + response.body.decode("utf-8")


def _changeset(api: Dataverse, body: str, boundary: str) -> tuple[list[str], bool]:
    """Run a changeset atomically; returns its rendered parts and whether it failed."""
    ids: dict[str, str] = {}
    rendered: list[str] = []
    with api.store.transaction() as rollback:
        for headers, text in split_multipart(body, boundary):
            content_id = headers.get("content-id")
            try:
                part = _inner_request(text, content_id, ids)
            except ValueError as error:
                response = dataverse_error(400, "0x80060888", str(error))
            else:
                response = (dataverse_error(400, "0x80060888", "GET requests are not allowed "
                                            "within change sets.")
                            if part.request.method == "GET" else api.dispatch(part.request))
            if response.status >= 400:
                rollback()
                return [_render(response, content_id)], True
            entity = response.header("OData-EntityId")
            if content_id and entity:
                ids[content_id] = urllib.parse.urlsplit(entity).path
            rendered.append(_render(response, content_id))
    return rendered, False


def _count(text: str, boundary: str) -> int:
    total = 0
    for headers, body in split_multipart(text, boundary):
        inner = _BOUNDARY.search(headers.get("content-type", ""))
        total += len(split_multipart(body, inner.group(1))) if inner else 1
    return total


def run_batch(api: Dataverse, request: Request) -> Response:
    """Answer ``POST $batch``."""
    match = _BOUNDARY.search(request.header("content-type"))
    if request.method != "POST" or match is None:
        return dataverse_error(400, "0x80060888", "A $batch request must be a POST with "
                               "Content-Type multipart/mixed; boundary=...")
    text = request.body.decode("utf-8").replace("\r\n", "\n")
    if _count(text, match.group(1)) > MAX_OPERATIONS:
        return dataverse_error(400, "0x80060888", "The number of requests in the batch exceeds "
                               f"the maximum of {MAX_OPERATIONS}. Split it into smaller batches.")
    keep_going = "odata.continue-on-error" in preferences(request)
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks, status = [], 200
    for headers, body in split_multipart(text, match.group(1)):
        inner = _BOUNDARY.search(headers.get("content-type", ""))
        if inner:
            parts, failed = _changeset(api, body, inner.group(1))
            change = f"changesetresponse_{uuid.uuid4()}"
            nested = "".join(f"--{change}\r\n{part}\r\n" for part in parts)
            chunks.append(f"Content-Type: multipart/mixed; boundary={change}\r\n\r\n"
                          f"{nested}--{change}--\r\n")
        else:
            try:
                part = _inner_request(body, headers.get("content-id"), {})
                response = api.dispatch(part.request)
            except ValueError as error:
                response = dataverse_error(400, "0x80060888", str(error))
            failed = response.status >= 400
            chunks.append(_render(response, headers.get("content-id")))
        if failed and not keep_going:
            status = 400
            break
    payload = "".join(f"--{boundary}\r\n{chunk}\r\n" for chunk in chunks) + f"--{boundary}--\r\n"
    headers_out = [("Content-Type", f"multipart/mixed; boundary={boundary}"),
                   ("OData-Version", "4.0")]
    if keep_going:
        headers_out.append(("Preference-Applied", "odata.continue-on-error"))
    return Response(status, payload.encode("utf-8"), headers_out)
