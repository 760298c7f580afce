"""The two faces of each target: the live one that sends, and the dry-run one that records.

``connect_dynamics``/``connect_strivacity`` build live targets from settings (msal and
client-credentials tokens over one session). ``Recording*`` have the same methods and only
note the requests they would make: a dry run runs the same loop, never an ``if execute``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from recon.apply.dynamics import API_PATH, DataverseTarget, build_batch
from recon.apply.journal import Outcome
from recon.apply.plan import Operation
from recon.apply.strivacity import API, SCOPES, StrivacityTarget
from recon.dynamics import client as dataverse
from recon.dynamics.auth import MsalTokenSource
from recon.http import build_session
from recon.retry import RetryPolicy
from recon.settings import DataverseSettings, StrivacitySettings
from recon.strivacity import client as strivacity
from recon.strivacity.client import StrivacityTokens

#: Writes wait longer for an answer than reads: a $batch of 1000 changesets takes a while.
WRITE_TIMEOUT = (10.0, 300.0)

PLANNED = "planned"


class DynamicsSender(Protocol):
    def send(self, ops: Sequence[Operation]) -> list[Outcome]: ...

    def resolve(self, op: Operation) -> Outcome | None: ...

    def read(self, contactid: str, columns: Sequence[str]) -> dict[str, Any] | None: ...


class StrivacitySender(Protocol):
    def create(self, op: Operation) -> Outcome: ...

    def resolve(self, op: Operation) -> Outcome | None: ...

    def submit(self, ops: Sequence[Operation]) -> str: ...

    def finish(self, job_id: str, lines: Sequence[tuple[int, Operation]]) -> list[Outcome]: ...


def connect_dynamics(settings: DataverseSettings, retry: RetryPolicy) -> DataverseTarget:
    """A live Dataverse target for ``settings``."""
    session = build_session(settings.ca_bundle)
    client = dataverse.service_client(session, MsalTokenSource(settings, session), retry,
                                      timeout=WRITE_TIMEOUT)
    return DataverseTarget(client, settings.url)


def connect_strivacity(settings: StrivacitySettings, retry: RetryPolicy, rate: float,
                       poll_interval: float) -> StrivacityTarget:
    """A live Strivacity target for ``settings``: at most ``rate`` requests a second and ten
    times that a minute (the default 10 keeps inside the per-IP 10/s and 100/min)."""
    session = build_session(settings.ca_bundle)
    tokens = StrivacityTokens(settings, session, scope=SCOPES)
    client = strivacity.service_client(session, tokens, retry, rate=rate,
                                       timeout=WRITE_TIMEOUT)
    return StrivacityTarget(client, settings.url, settings.store, poll_interval)


class RecordingDynamics:
    """Dry run for Dataverse: records each ``$batch`` it would post.

    Reads are harmless, so a dry rollback passes the live target as ``reader`` to see which
    contacts still hold what apply wrote.
    """

    def __init__(self, base_url: str, reader: DynamicsSender | None = None) -> None:
        self.url = base_url.rstrip("/") + API_PATH + "$batch"
        self.reader = reader
        self.requests: list[dict[str, Any]] = []

    def send(self, ops: Sequence[Operation]) -> list[Outcome]:
        body = build_batch(ops, str(uuid.uuid4()))
        self.requests.append({"method": "POST", "url": self.url, "operations": len(ops),
                              "bytes": len(body), "prefer": "odata.continue-on-error"})
        return [Outcome(op.key, PLANNED, note="dry run: not sent") for op in ops]

    def resolve(self, op: Operation) -> Outcome | None:
        return None

    def read(self, contactid: str, columns: Sequence[str]) -> dict[str, Any] | None:
        """The reader's answer; without one, a placeholder (the etag is read when executing)."""
        if self.reader is not None:
            return self.reader.read(contactid, columns)
        return {"@odata.etag": "<read when executing>", "contactid": contactid}


class RecordingStrivacity:
    """Dry run for Strivacity: records the creates and the bulk upload it would make."""

    def __init__(self, base_url: str, store: str) -> None:
        self.base = base_url.rstrip("/") + API
        self.store = store
        self.requests: list[dict[str, Any]] = []

    def create(self, op: Operation) -> Outcome:
        self.requests.append({"method": "POST", "url": f"{self.base}/identityStores/"
                              f"{self.store}/accounts", "record": op.record})
        return Outcome(op.key, PLANNED, note="dry run: not sent")

    def resolve(self, op: Operation) -> Outcome | None:
        return None

    def submit(self, ops: Sequence[Operation]) -> str:
        self.requests.append({"method": "POST", "url": f"{self.base}/bulk", "lines": len(ops)})
        return "dry-run"

    def finish(self, job_id: str, lines: Sequence[tuple[int, Operation]]) -> list[Outcome]:
        return [Outcome(op.key, PLANNED, note="dry run: not sent") for _, op in lines]


def recorded(sender: Any) -> list[Mapping[str, Any]]:
    """The requests a dry-run sender recorded (none for a live one)."""
    return list(getattr(sender, "requests", []))
