"""Writing accounts to Strivacity (reference/strivacity.md §4.2-4.3), each write exactly once.

Neither a create nor a bulk submit is idempotent, so neither is retried blindly: a 429 is
(nothing was accepted), while a 5xx or a lost answer is first settled by reading the target.
A create is looked up by its email identifier (ours when the link attribute matches); a 409
is judged the same way, so an account an earlier send created is done, not a conflict. A bulk
job's updates are read back account by account: the Admin API lists no jobs and takes no
client marker, so the accounts' own state is the only witness of an accepted job. Only one
bulk job may run: wait for the running one, poll to the end, map per-line errors back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from recon.apply.journal import CONFLICT, DONE, FAILED, Outcome
from recon.apply.plan import Operation, link_of
from recon.errors import HttpError
from recon.http import PageRequest, ServiceClient, paginate
from recon.ratelimit import exhausted_wait, parse_buckets
from recon.strivacity.client import STRIVACITY, PageSizePages, error_of

API = "/admin/api/v1"
FINISHED = ("COMPLETED", "FAILED", "CANCELLED", "CANCELED", "ERROR")
SCOPES = "read:account write:account write:admin_bulk_operation read:admin_bulk_operation"
JSON_BODY = {"Content-Type": "application/json"}
BULK = "BULK"
LIST_PAGE = 200  # accounts per list page when settling a lost bulk answer
CLOCK_SKEW = timedelta(minutes=5)  # our clock against the tenant's, when listing "since"


def holds(record: Any, wanted: Any) -> bool:
    """Whether ``record`` already holds every value of ``wanted`` (nested attributes)."""
    if isinstance(wanted, dict):
        return isinstance(record, dict) and all(holds(record.get(k), v)
                                                for k, v in wanted.items())
    return record == wanted or (record is not None and wanted is not None
                                and str(record) == str(wanted))


def applied(account: dict[str, Any], line: dict[str, Any]) -> bool:
    """Whether an account already shows the effect of one bulk line."""
    operation = line.get("operation")
    if operation in ("enableAccount", "disableAccount"):
        return bool(account.get("enabled")) == (operation == "enableAccount")
    local = ((account.get("identities") or {}).get("local") or {}).get("metadata")
    value = line.get("value") or {}
    return holds(account.get("accountInfo"), value) or holds(local, value)


class StrivacityTarget:
    """Creates accounts and runs bulk update jobs against one identity store."""

    def __init__(self, client: ServiceClient, base_url: str, store: str,
                 poll_interval: float = 2.0, poll_timeout: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.store = client, store
        self.base = base_url.rstrip("/") + API
        self.poll_interval, self.poll_timeout = poll_interval, poll_timeout
        self._clock = clock
        self._idle = False  # a job-free store was seen since the last submit

    def accounts_url(self) -> str:
        return f"{self.base}/identityStores/{quote(self.store, safe='')}/accounts"

    def create(self, op: Operation) -> Outcome:
        """POST one create-account body; a lost or 5xx answer is looked up before resending."""
        found: list[Outcome] = []

        def absent() -> bool:
            outcome = self._find_created(op, note="found created after its answer was lost")
            if outcome is not None:
                found.append(outcome)
            return outcome is None

        try:
            response = self.client.send("POST", self.accounts_url(), json=op.body,
                                        headers=JSON_BODY, settle=absent)
        except HttpError:
            if found:
                return found[0]  # the answer was lost, the account is there
            raise
        if found:
            return found[0]
        code, message = STRIVACITY.error_text(response)
        text = f"{message}{f' ({code})' if code else ''}"
        if response.status_code < 300:
            account = response.json()
            return Outcome(op.key, DONE, response.status_code,
                           detail={"accountId": account.get("id")})
        if response.status_code == 409:
            ours = self._find_created(op, note="already created by an earlier send")
            return ours or Outcome(op.key, CONFLICT, 409, text)
        return Outcome(op.key, FAILED, response.status_code, text)

    def resolve(self, op: Operation) -> Outcome | None:
        """Settle an operation journaled ``sending`` without an outcome; None: send it again."""
        if op.method == BULK:
            return self._find_applied(op)
        return self._find_created(op)

    def _find_created(self, op: Operation,
                      note: str = "found created after a restart") -> Outcome | None:
        """By email: ours (link matches) is done, another's a conflict, none is None."""
        params = urlencode({"emailNativeClaim": op.record, "page": 0, "size": 5})
        response = self.client.send("GET", f"{self.accounts_url()}?{params}")
        if response.status_code >= 400:
            raise STRIVACITY.refused(response, f"GET accounts for {op.record}",
                                     "Check the API client has read:account.")
        found = response.json() or []
        if not found:
            return None
        wanted = link_of(op.body)
        for account in found:
            attributes = account.get("accountInfo") or {}
            if wanted is not None and link_of({"local": {"metadata": attributes}}) == wanted:
                return Outcome(op.key, DONE, 200, note=note,
                               detail={"accountId": account.get("id")})
        return Outcome(op.key, CONFLICT, 409, "an account with this email already exists")

    def _find_applied(self, op: Operation) -> Outcome | None:
        """Read a bulk line's account (once no job runs): applied is done, else None."""
        if not self._idle:
            self._wait_idle()
        account_id = _account(op)
        response = self.client.send("GET", f"{self.accounts_url()}/{quote(account_id, safe='')}")
        if response.status_code == 404:
            return None  # sent again, the job reports the line's own 404
        if response.status_code >= 400:
            raise STRIVACITY.refused(response, f"GET account {account_id}",
                                     "Check the API client has read:account.")
        if applied(response.json(), op.body):
            return Outcome(op.key, DONE, 200, note="found applied after a restart: the bulk "
                           "job had been accepted")
        return None

    def _touched_since(self, since: datetime) -> dict[str, dict[str, Any]]:
        """Accounts updated since ``since``, by id. Paged in ``createdAt`` order, which updates
        never change, so an update made while paging cannot make the list skip an account."""
        stamp = since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        pages = PageSizePages(self.accounts_url(), {"updatedAtStartDate": stamp,
                                                    "sort": "createdAt,asc"}, LIST_PAGE)

        def fetch(request: PageRequest) -> Any:
            query = urlencode(dict(request.params or {}), quote_via=quote, safe=",")
            response = self.client.send("GET", f"{request.url}?{query}")
            if response.status_code >= 400:
                raise STRIVACITY.refused(response, "GET accounts updated since the submit",
                                         "Check the API client has read:account.")
            return response.json()

        return {str(a.get("id")): a for page in paginate(fetch, pages) for a in page
                if isinstance(a, dict)}

    def submit(self, ops: Sequence[Operation]) -> str:
        """Upload ``ops`` as one NDJSON bulk job once no other job runs; returns the job id.

        A 5xx or lost answer is settled by reading back the accounts updated since the submit
        (a few list pages, not one read per line): none of the lines applied means the job was
        not accepted (sent again); any applied means it was, and apply stops so that the next
        run settles each line from its account instead of submitting again.
        """
        self._wait_idle()
        body = "".join(json.dumps(op.body, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for op in ops).encode("utf-8")
        accepted: list[bool] = []
        started = datetime.now(UTC)

        def not_accepted() -> bool:
            self._wait_idle()
            touched = self._touched_since(started - CLOCK_SKEW)
            seen = any(applied(touched[_account(op)], op.body) for op in ops
                       if _account(op) in touched)
            accepted.append(seen)
            return not seen

        self._idle = False
        try:
            response = self.client.send("POST", f"{self.base}/bulk", data=body,
                                        headers={"Content-Type": "application/x-ndjson"},
                                        settle=not_accepted)
        except HttpError as exc:
            if accepted and accepted[-1]:
                raise _accepted(len(ops), "no answer") from exc
            raise
        if accepted and accepted[-1]:
            raise _accepted(len(ops), f"answer {response.status_code}")
        if response.status_code >= 400:
            raise STRIVACITY.refused(response, f"POST bulk ({len(ops)} lines)",
                                     "Check the API client has write:admin_bulk_operation; if "
                                     "a job is running, wait for it and run apply again.")
        return str(response.json()["id"])

    def _wait_idle(self) -> None:
        """Wait while a bulk job runs (HEAD answers 429 then; a throttled HEAD is retried)."""
        started = self._clock()
        while True:
            response = self.client.send("HEAD", f"{self.base}/bulk", again=_busy_is_final)
            if response.status_code != 429:
                self._idle = True
                return
            if self._clock() - started > self.poll_timeout:
                raise HttpError(f"A Strivacity bulk job is still running after "
                                f"{self.poll_timeout:.0f}s. Run apply again later.")
            self.client.sleep(self.poll_interval)

    def finish(self, job_id: str, lines: Sequence[tuple[int, Operation]]) -> list[Outcome]:
        """Poll job ``job_id`` to its end and map its per-line errors back to the operations
        (``lines`` pairs each operation with its 1-based line in the uploaded NDJSON)."""
        job = self._poll(job_id)
        errors = self._get(f"{self.base}/bulk/{job_id}/errors", "bulk job errors") or []
        failed = {int(e["line"]): e for e in errors if isinstance(e, dict) and "line" in e}
        outcomes = []
        for number, op in lines:
            error = failed.get(number)
            if error is None and job.get("status") == "COMPLETED":
                outcomes.append(Outcome(op.key, DONE, 200, detail={"job": job_id}))
                continue
            detail = error.get("error") if error else None
            code, message = error_of(detail, f"job ended {job.get('status')}")
            status = detail.get("status") if isinstance(detail, dict) else None
            outcomes.append(Outcome(op.key, FAILED, status, f"{message}"
                                    f"{f' ({code})' if code else ''}", detail={"job": job_id}))
        return outcomes

    def _poll(self, job_id: str) -> dict[str, Any]:
        started = self._clock()
        while True:
            job: dict[str, Any] = self._get(f"{self.base}/bulk/{job_id}", "bulk job status")
            if str(job.get("status", "")).upper() in FINISHED:
                return job
            if self._clock() - started > self.poll_timeout:
                raise HttpError(f"Strivacity bulk job {job_id} still {job.get('status')} after "
                                f"{self.poll_timeout:.0f}s. Run apply again later: it resumes "
                                "polling this job.")
            self.client.sleep(self.poll_interval)

    def _get(self, url: str, what: str) -> Any:
        response = self.client.send("GET", url)
        if response.status_code >= 400:
            raise STRIVACITY.refused(response, f"GET {what}",
                                     "Check the API client has read:admin_bulk_operation.")
        return response.json()


def _account(op: Operation) -> str:
    return str(op.body.get("accountId") or op.record)


def _accepted(lines: int, how: str) -> HttpError:
    return HttpError(f"Strivacity accepted the bulk job ({lines} lines) but its answer was "
                     f"lost ({how}), so its id is unknown. Nothing was sent again; run apply "
                     "again: it reads each line's account back and sends only the lines not "
                     "applied.")


def _busy_is_final(response: Any) -> tuple[int, str | None] | None:
    """HEAD /bulk: a 429 that is "a job is running" is an answer; one that is throttling (a
    rate-limit bucket empty) is tried again after the bucket resets."""
    if response.status_code == 429 and exhausted_wait(parse_buckets(response.headers)):
        return 429, None
    return None if response.status_code < 500 else (response.status_code, None)
