"""Writing accounts to Strivacity (reference/strivacity.md §4.2-4.3).

Creates go one request at a time within a rate; a 409 means the identifier is taken (a
conflict), and an answer lost to a crash or a 5xx is settled by looking the email up before
sending again. Updates go as one bulk job (only one may run: wait for the running one),
polled to the end, with its per-line errors mapped back to the operations.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from recon.apply.journal import CONFLICT, DONE, FAILED, Outcome
from recon.apply.plan import Operation, link_of
from recon.apply.transport import Transport, error_of, error_text, refused
from recon.errors import HttpError
from recon.retry import RetryPolicy

API = "/admin/api/v1"
FINISHED = ("COMPLETED", "FAILED", "CANCELLED", "CANCELED", "ERROR")
SCOPES = "read:account write:account write:admin_bulk_operation read:admin_bulk_operation"


class RateLimit:
    """At most ``rate`` calls a second: ``wait()`` sleeps until the next call is allowed."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval, self._clock, self._sleep = 1.0 / rate, clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class StrivacityTarget:
    """Creates accounts and runs bulk update jobs against one identity store."""

    def __init__(self, transport: Transport, base_url: str, store: str, rate: RateLimit,
                 poll_interval: float = 2.0, poll_timeout: float = 3600.0) -> None:
        self.transport, self.store, self.rate = transport, store, rate
        self.base = base_url.rstrip("/") + API
        self.poll_interval, self.poll_timeout = poll_interval, poll_timeout
        self._rng = random.Random()

    @property
    def _retry(self) -> RetryPolicy:
        return self.transport.retry

    def accounts_url(self) -> str:
        return f"{self.base}/identityStores/{quote(self.store, safe='')}/accounts"

    def create(self, op: Operation) -> Outcome:
        """POST one create-account body; a lost or 5xx answer is checked before resending."""
        response = None
        for attempt in range(self._retry.max_attempts):
            self.rate.wait()
            try:
                response = self.transport.send("POST", self.accounts_url(), json=op.body,
                                               headers={"Content-Type": "application/json"})
            except HttpError:
                response = None  # no answer: the account may or may not exist now
            if response is not None and response.status_code < 500:
                return self._judge(op, response.status_code, response)
            found = self.resolve(op)
            if found is not None:
                return found
            self._retry.sleep(self._retry.backoff(attempt, self._rng))
        status = response.status_code if response is not None else None
        return Outcome(op.key, FAILED, status, "Strivacity kept failing; run apply again")

    def _judge(self, op: Operation, status: int, response: Any) -> Outcome:
        code, message = error_text(response)
        if status < 300:
            account = response.json()
            return Outcome(op.key, DONE, status, detail={"accountId": account.get("id")})
        if status == 409:
            return Outcome(op.key, CONFLICT, 409, f"{message}{f' ({code})' if code else ''}")
        return Outcome(op.key, FAILED, status, f"{message}{f' ({code})' if code else ''}")

    def resolve(self, op: Operation) -> Outcome | None:
        """Settle an unknown create by email: ours (link matches) is done, another's a conflict."""
        params = urlencode({"emailNativeClaim": op.record, "page": 0, "size": 5})
        response = self.transport.send("GET", f"{self.accounts_url()}?{params}")
        if response.status_code >= 400:
            raise refused("Strivacity", response, f"GET accounts for {op.record}",
                          "Check the API client has read:account.")
        found = response.json() or []
        if not found:
            return None
        wanted = link_of(op.body)
        for account in found:
            attributes = account.get("accountInfo") or {}
            if link_of({"local": {"metadata": attributes}}) == wanted:
                return Outcome(op.key, DONE, 200, note="found created after a restart",
                               detail={"accountId": account.get("id")})
        return Outcome(op.key, CONFLICT, 409, "an account with this email already exists")

    def submit(self, ops: Sequence[Operation]) -> str:
        """Upload ``ops`` as one NDJSON bulk job once no other job runs; returns the job id."""
        self._wait_idle()
        body = "".join(json.dumps(op.body, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for op in ops).encode("utf-8")
        response = self.transport.send("POST", f"{self.base}/bulk", data=body,
                                       headers={"Content-Type": "application/x-ndjson"},
                                       idempotent=True)
        if response.status_code >= 400:
            raise refused("Strivacity", response, f"POST bulk ({len(ops)} lines)",
                          "Check the API client has write:admin_bulk_operation; if a job is "
                          "running, wait for it and run apply again.")
        return str(response.json()["id"])

    def _wait_idle(self) -> None:
        """Wait while another bulk job runs (HEAD answers 429 then)."""
        started = time.monotonic()
        while True:
            response = self.transport.send("HEAD", f"{self.base}/bulk")
            if response.status_code != 429 or time.monotonic() - started > self.poll_timeout:
                return
            self._retry.sleep(self.poll_interval)

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
        started = time.monotonic()
        while True:
            job: dict[str, Any] = self._get(f"{self.base}/bulk/{job_id}", "bulk job status")
            if str(job.get("status", "")).upper() in FINISHED:
                return job
            if time.monotonic() - started > self.poll_timeout:
                raise HttpError(f"Strivacity bulk job {job_id} still {job.get('status')} after "
                                f"{self.poll_timeout:.0f}s. Run apply again later: it resumes "
                                "polling this job.")
            self._retry.sleep(self.poll_interval)

    def _get(self, url: str, what: str) -> Any:
        response = self.transport.send("GET", url)
        if response.status_code >= 400:
            raise refused("Strivacity", response, f"GET {what}",
                          "Check the API client has read:admin_bulk_operation.")
        return response.json()
