"""Strivacity bulk operation jobs: one NDJSON upload at a time, applied asynchronously.

A job is RUNNING from upload until a timer thread applies its lines (``delay`` seconds later),
then COMPLETED with per-line errors keyed by 1-based line number.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from recon.emulator.store import AccountStore, iso_ms_now
from recon.emulator.wire import Request, Response, json_response, problem

OPERATIONS = ("updatePersonalData", "enableAccount", "disableAccount")


@dataclass
class Job:
    id: str
    lines: list[str]
    status: str = "RUNNING"
    start: str = field(default_factory=iso_ms_now)
    end: str | None = None
    success: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        total = len(self.lines)
        return {"id": self.id, "status": self.status, "startDate": self.start,
                "endDate": self.end,
                "result": {"total": total, "success": self.success,
                           "failure": len(self.errors)}}


def _error(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"status": status, "title": title, "detail": detail}


class BulkJobs:
    """``/admin/api/v1/bulk``: upload, running check, status and errors."""

    def __init__(self, store: AccountStore, delay: float = 0.05) -> None:
        self.store = store
        self.delay = delay  # seconds a job stays RUNNING before it is applied
        self._jobs: dict[str, Job] = {}
        self.applied = 0  # lines applied over all jobs (exactly-once tests count them)
        self._running: Job | None = None
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Cancel pending jobs (the emulator is stopping)."""
        for timer in self._timers:
            timer.cancel()

    @property
    def jobs(self) -> list[Job]:
        """Every job accepted so far, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def handle(self, request: Request, rest: str) -> Response:
        if rest in ("", "/") and request.method == "POST":
            return self._upload(request)
        if rest in ("", "/") and request.method == "HEAD":
            return Response(429 if self._running else 200)
        job_id, _, tail = rest.strip("/").partition("/")
        job = self._jobs.get(job_id)
        if request.method == "GET" and job is not None and tail in ("", "errors"):
            with self._lock:
                return json_response(200, job.errors if tail else job.as_json())
        if request.method == "GET" and job is None:
            return problem(404, "Not Found", f"Bulk job '{job_id}' does not exist.",
                           "bulkOperationNotFound")
        return problem(405, "Method Not Allowed", f"{request.method} is not supported here.",
                       "methodNotAllowed")

    def _upload(self, request: Request) -> Response:
        lines = [line for line in request.body.decode("utf-8").splitlines()]
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            return problem(400, "Bad Request", "The NDJSON body is empty.", "badRequest")
        with self._lock:
            if self._running is not None:
                return problem(429, "Too Many Requests", "There is a bulk operation running "
                               "already.", "bulkOperationRunning")
            job = Job(str(uuid.uuid4()), lines)
            self._jobs[job.id] = job
            self._running = job
        timer = threading.Timer(self.delay, self._run, args=(job,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
        return json_response(200, {"id": job.id})

    def _run(self, job: Job) -> None:
        for number, line in enumerate(job.lines, start=1):
            request: Any = line
            try:
                request = json.loads(line)
                failure = self._apply(request)
            except json.JSONDecodeError as error:
                failure = _error(400, "Bad Request", f"Line is not JSON: {error.msg}.")
            with self._lock:
                if failure:
                    job.errors.append({"line": number, "request": request, "error": failure})
                else:
                    job.success += 1
                    self.applied += 1
        with self._lock:
            job.status, job.end = "COMPLETED", iso_ms_now()
            self._running = None

    def _apply(self, op: Any) -> dict[str, Any] | None:
        """Apply one operation; the error object when it cannot be applied."""
        if not isinstance(op, dict) or op.get("operation") not in OPERATIONS:
            return _error(400, "Bad Request", f"operation must be one of {', '.join(OPERATIONS)}.")
        if op.get("identityStore") != self.store.store:
            return _error(404, "Not Found", f"Identity store '{op.get('identityStore')}' does "
                          "not exist.")
        account_id = op.get("accountId")
        if not isinstance(account_id, str) or self.store.get(account_id) is None:
            return _error(404, "Not Found", f"Account '{account_id}' does not exist.")
        if op["operation"] == "updatePersonalData":
            if not isinstance(op.get("value"), dict):
                return _error(400, "Bad Request", "updatePersonalData needs a 'value' object.")
            self.store.update_personal(account_id, op["value"])
        else:
            self.store.set_enabled(account_id, op["operation"] == "enableAccount")
        return None
