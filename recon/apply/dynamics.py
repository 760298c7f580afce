"""Writing contacts to Dataverse through ``$batch`` (reference/dataverse.md §5.4-5.6).

Each operation travels as its own changeset (one failure rolls back nothing else) with
``Prefer: odata.continue-on-error``. Every part's answer is mapped back to its operation by
``Content-ID``, or by position when a failed changeset comes back as a bare
``application/http`` part (the OData spec shape) instead of Dataverse's nested one.

Writes are safe to repeat: updates carry ``If-Match`` (a 412 is then checked against the
contact: already applied, or a real conflict), creates carry their own ``contactid`` (a
duplicate-key answer means an earlier send created it).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from recon.apply.journal import CONFLICT, DONE, FAILED, Outcome
from recon.apply.plan import Operation
from recon.dynamics.client import API_PATH, DATAVERSE, error_of
from recon.errors import HttpError
from recon.http import ServiceClient
from recon.multipart import part_headers, split_multipart

DUPLICATE_KEY = "0x80040237"
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
ODATA = {"OData-MaxVersion": "4.0", "OData-Version": "4.0"}
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_STATUS = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})")


@dataclass(frozen=True)
class Part:
    """One inner answer of a ``$batch`` response."""

    content_id: str | None
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def build_batch(ops: Sequence[Operation], boundary: str) -> bytes:
    """A ``multipart/mixed`` body: one changeset per operation, Content-ID = position + 1."""
    out = []
    for number, op in enumerate(ops, start=1):
        changeset = f"changeset_{boundary}_{number}"
        inner = [f"{op.method} {API_PATH}{op.path} HTTP/1.1",
                 "Content-Type: application/json; type=entry"]
        if op.etag is not None:
            inner.append(f"If-Match: {op.etag}")
        out += [f"--batch_{boundary}",
                f"Content-Type: multipart/mixed; boundary={changeset}", "",
                f"--{changeset}", "Content-Type: application/http",
                "Content-Transfer-Encoding: binary", f"Content-ID: {number}", "",
                *inner, "", json.dumps(op.body, ensure_ascii=False), f"--{changeset}--"]
    out.append(f"--batch_{boundary}--")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


def _http_part(text: str, content_id: str | None) -> Part:
    head, _, body = text.partition("\n\n")
    status_line, _, header_block = head.partition("\n")
    match = _STATUS.match(status_line.strip())
    if match is None:
        raise ValueError(f"not an HTTP status line: {status_line[:60]!r}")
    body = body.strip()
    try:
        parsed: Any = json.loads(body) if body else None
    except json.JSONDecodeError:
        parsed = body
    return Part(content_id, int(match.group(1)), part_headers(header_block), parsed)


def parse_batch(text: str, content_type: str) -> list[tuple[int, Part]]:
    """(top-level position, part) for every inner answer, nested changeset parts included."""
    outer = _BOUNDARY.search(content_type)
    if outer is None:
        raise ValueError("the $batch answer is not multipart/mixed")
    text = text.replace("\r\n", "\n")
    found = []
    for position, (headers, body) in enumerate(split_multipart(text, outer.group(1))):
        nested = _BOUNDARY.search(headers.get("content-type", ""))
        if nested:
            for inner_headers, inner in split_multipart(body, nested.group(1)):
                found.append((position, _http_part(inner, inner_headers.get("content-id"))))
        else:
            found.append((position, _http_part(body, headers.get("content-id"))))
    return found


def assign(ops: Sequence[Operation], parts: list[tuple[int, Part]]) -> dict[str, Part]:
    """Each operation's answer: by Content-ID when present, else by top-level position."""
    answers: dict[str, Part] = {}
    for position, part in parts:
        index = int(part.content_id) - 1 if part.content_id and part.content_id.isdigit() \
            else position
        if 0 <= index < len(ops):
            answers[ops[index].key] = part
    return answers


def same(current: Any, wanted: Any) -> bool:
    """Whether a value read back from Dataverse equals the value apply wrote."""
    if current is None or wanted is None:
        return (current in (None, "")) and (wanted in (None, ""))
    return current == wanted or str(current) == str(wanted)


class DataverseTarget:
    """Sends operation batches to one environment and judges every answer."""

    def __init__(self, client: ServiceClient, base_url: str) -> None:
        self.client = client
        self.api = base_url.rstrip("/") + API_PATH

    def send(self, ops: Sequence[Operation]) -> list[Outcome]:
        """Send ``ops`` as one ``$batch``; throttled or failed parts go again in the next try.

        The client's one retry loop decides whether and when: each try posts only the parts
        still unsettled (the body is rebuilt per try), and ``_BatchRound`` judges each answer.
        """
        state = _BatchRound(self, list(ops), str(uuid.uuid4()))
        headers = {**ODATA, "Prefer": "odata.continue-on-error",
                   "Content-Type": f'multipart/mixed; boundary="batch_{state.boundary}"'}
        response = self.client.send("POST", self.api + "$batch", data=state.body,
                                    headers=headers, idempotent=True, again=state.judge)
        if state.unreadable is not None:
            raise HttpError(f"Dataverse sent a $batch answer recon cannot read "
                            f"({state.unreadable}). Run apply again; report the answer if it "
                            "repeats.", status=response.status_code) from state.unreadable
        if not state.answered:
            raise DATAVERSE.refused(response, f"POST $batch ({len(ops)} operations)",
                                    "Check the application user's security role (write "
                                    "contacts); run apply again to resume.")
        for op in state.pending:
            part = state.last.get(op.key)
            state.outcomes[op.key] = Outcome(op.key, FAILED, part.status if part else None,
                                             _message(part) if part else
                                             "no answer in the batch")
        return [state.outcomes[op.key] for op in ops]

    def judge(self, op: Operation, part: Part) -> Outcome:
        """The outcome of one answered operation."""
        code, message = error_of(part.body, f"HTTP {part.status}")
        if part.status < 300:
            return Outcome(op.key, DONE, part.status)
        if op.method == "POST" and (part.status in (409, 412) or code == DUPLICATE_KEY):
            return Outcome(op.key, DONE, part.status, note="already created by an earlier send")
        if op.method == "PATCH" and part.status == 412:
            if self._applied(op):
                return Outcome(op.key, DONE, part.status, note="already applied")
            return Outcome(op.key, CONFLICT, 412, "the contact changed since the run "
                           f"({message})")
        return Outcome(op.key, FAILED, part.status, f"{message}{f' ({code})' if code else ''}")

    def read(self, contactid: str, columns: Sequence[str]) -> dict[str, Any] | None:
        """The contact's current ``columns`` and ``@odata.etag``, or None if it is gone."""
        select = ",".join(dict.fromkeys(["contactid", *columns]))
        url = f"{self.api}contacts({contactid})?$select={select}"
        response = self.client.send("GET", url, headers=ODATA)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise DATAVERSE.refused(response, f"GET contacts({contactid})",
                                    "Check the application user can read contacts.")
        row: dict[str, Any] = response.json()
        return row

    def _applied(self, op: Operation) -> bool:
        row = self.read(op.record, list(op.body))
        return row is not None and all(same(row.get(k), v) for k, v in op.body.items())

    def resolve(self, op: Operation) -> Outcome | None:
        """Settle an operation journaled as sending without an outcome; None: send it again."""
        row = self.read(op.record, list(op.body) if op.method == "PATCH" else [])
        if op.method == "POST":
            return None if row is None else Outcome(op.key, DONE, 200,
                                                    note="found created after a restart")
        if row is None:
            return Outcome(op.key, FAILED, 404, "the contact no longer exists")
        if all(same(row.get(k), v) for k, v in op.body.items()):
            return Outcome(op.key, DONE, 200, note="found applied after a restart")
        return None


@dataclass
class _BatchRound:
    """One ``$batch`` send across its tries: what is still pending and what each part said."""

    target: DataverseTarget
    pending: list[Operation]
    boundary: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    last: dict[str, Part] = field(default_factory=dict)
    answered: bool = False
    unreadable: ValueError | None = None

    def body(self) -> bytes:
        return build_batch(self.pending, self.boundary)

    def judge(self, response: Any) -> tuple[int, str | None] | None:
        """Settle the answered parts; ask for another try while retryable parts remain."""
        kind = response.headers.get("Content-Type", "")
        if response.status_code not in (200, 400) or "multipart" not in kind:
            if response.status_code < 400:
                return None
            return response.status_code, response.headers.get("Retry-After")
        try:
            answers = assign(self.pending, parse_batch(response.text, kind))
        except ValueError as exc:
            self.unreadable = exc
            return None
        self.answered = True
        again: list[Operation] = []
        for op in self.pending:
            part = answers.get(op.key)
            if part is None or part.status in RETRYABLE:
                again.append(op)
                if part is not None:
                    self.last[op.key] = part
            else:
                self.outcomes[op.key] = self.target.judge(op, part)
        self.pending = again
        if not again:
            return None
        part = self.last.get(again[0].key)
        return (part.status, part.headers.get("retry-after")) if part else (500, None)


def _message(part: Part) -> str:
    code, message = error_of(part.body, f"HTTP {part.status}")
    return f"{message}{f' ({code})' if code else ''}"
