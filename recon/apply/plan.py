"""What ``recon apply`` would send: the run folder's batch lines as numbered operations.

Each batch line becomes one ``Operation`` with a stable key (``<batch>:<line>``) that the
journal uses. Creates in Dynamics carry the ``contactid`` the run fixed (the same run's
``update_strivacity`` writes it back as the account's link); a line without one (a run folder
from an older recon) gets an id derived from the batch file and the line. Either way a resend
after a crash addresses the same contact instead of creating another.

Each operation also has a ``digest`` of what it sends, and the plan the run's id (``run_id``,
a digest of the batch files): the journal counts an entry only for the same run, tenant and
operation digest.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recon import runfolder
from recon.errors import ConfigError, InputError
from recon.runfolder import BATCHES_DIR, DYNAMICS, SEND_ORDER, STRIVACITY

TARGETS = (DYNAMICS, STRIVACITY)
#: Batch name -> (target, file under batches/), in the order apply sends them (recon.runfolder).
BATCHES: dict[str, tuple[str, str]] = {
    name: (runfolder.BATCHES[name].target, runfolder.BATCHES[name].file) for name in SEND_ORDER}
#: Namespace of the client-generated contact ids (uuid5), fixed forever: changing it would
#: make a resumed run create its contacts a second time.
CONTACT_NAMESPACE = uuid.UUID("6f1d7c52-2b1e-4f0c-9a43-5d3e8e7a0c11")
LINK_PATH = ("crm", "dynamicsContactId")


@dataclass(frozen=True)
class Operation:
    """One write: the batch line it came from, what it addresses and the body it sends.

    ``method`` is ``PATCH``/``POST`` for single requests and ``BULK`` for a line of a
    Strivacity bulk job. ``record`` names the record for people: a contact id, an email or
    an account id.
    """

    batch: str
    line: int
    record: str
    method: str
    path: str
    body: dict[str, Any]
    etag: str | None = None
    was: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.batch}:{self.line}"

    @property
    def digest(self) -> str:
        """What the operation sends (method, path, body), hashed: a journal entry made for
        other content never settles this operation."""
        text = json.dumps([self.method, self.path, self.body], sort_keys=True,
                          ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

    def preview(self) -> dict[str, Any]:
        """The operation as plan.json shows it."""
        shown: dict[str, Any] = {"line": self.line, "record": self.record,
                                 "method": self.method, "path": self.path, "body": self.body}
        if self.etag is not None:
            shown["if_match"] = self.etag
        return shown


@dataclass(frozen=True)
class Plan:
    """The operations of one target, per batch, in sending order."""

    target: str
    url: str
    batches: dict[str, list[Operation]] = field(default_factory=dict)
    run: str = ""  # the run id: ``run_id`` of the folder the plan was read from

    def operations(self) -> list[Operation]:
        return [op for ops in self.batches.values() for op in ops]

    def counts(self) -> dict[str, int]:
        return {name: len(ops) for name, ops in self.batches.items()}

    def to_json(self, first: int = 5) -> dict[str, Any]:
        """plan.json: target, counts, and the first ``first`` operations of each batch."""
        return {"target": self.target, "url": self.url, "run": self.run,
                "operations": self.counts(),
                "first": {name: [op.preview() for op in ops[:first]]
                          for name, ops in self.batches.items()}}


def batch_names(target: str, only: tuple[str, ...] = ()) -> list[str]:
    """The batches of ``target``, narrowed to ``only``; an unknown name is a ConfigError."""
    if target not in TARGETS:
        raise ConfigError(f"--to {target!r} is not a target; valid: {', '.join(TARGETS)}.")
    mine = [name for name, (owner, _) in BATCHES.items() if owner == target]
    wrong = [name for name in only if name not in mine]
    if wrong:
        raise ConfigError(f"--only {', '.join(wrong)}: not a batch for --to {target}; valid: "
                          f"{', '.join(mine)}.")
    return [name for name in mine if not only or name in only]


def read_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for each non-blank line; a bad line is an InputError."""
    if not path.is_file():
        return []
    found = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not JSON ({exc.msg})", file=str(path), line=number,
                             fix="Write the run folder again with `recon reconcile`.") from exc
        if not isinstance(value, dict):
            raise InputError("a batch line must be a JSON object", file=str(path), line=number,
                             fix="Write the run folder again with `recon reconcile`.")
        found.append((number, value))
    return found


def contact_id_for(digest: str, line: int) -> str:
    """The contact id a create line gets: the same for the same run file and line, always."""
    return str(uuid.uuid5(CONTACT_NAMESPACE, f"{digest}:{line}"))


def _need(value: dict[str, Any], name: str, path: Path, line: int) -> Any:
    if value.get(name) in (None, "", {}):
        raise InputError(f"the line has no {name!r}", file=str(path), line=line,
                         column=name, fix="Write the run folder again with `recon reconcile`.")
    return value[name]


def _update_dynamics(path: Path, lines: list[tuple[int, dict[str, Any]]]) -> list[Operation]:
    ops = []
    for line, value in lines:
        contactid = str(_need(value, "contactid", path, line)).strip("{}").lower()
        ops.append(Operation("update_dynamics", line, contactid, "PATCH",
                             f"contacts({contactid})", dict(_need(value, "set", path, line)),
                             etag=value.get("etag"), was=dict(value.get("was") or {})))
    return ops


def _create_in_dynamics(path: Path, lines: list[tuple[int, dict[str, Any]]]) -> list[Operation]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if lines else ""
    ops = []
    for line, value in lines:
        given = str(value.get("contactid") or "").strip().strip("{}").lower()
        if given and not _is_guid(given):
            raise InputError(f"contactid {given!r} is not a GUID", file=str(path), line=line,
                             column="contactid",
                             fix="Write the run folder again with `recon reconcile`.")
        contactid = given or contact_id_for(digest, line)
        body = {**{k: v for k, v in value.items() if k != "contactid"}, "contactid": contactid}
        ops.append(Operation("create_in_dynamics", line, contactid, "POST", "contacts", body))
    return ops


def _is_guid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _migrate(path: Path, lines: list[tuple[int, dict[str, Any]]]) -> list[Operation]:
    ops = []
    for line, value in lines:
        email = _need(value, "email", path, line).get("id")
        if not email:
            raise InputError("the line has no email identifier", file=str(path), line=line,
                             column="email.id", fix="Write the run folder again.")
        ops.append(Operation("migrate_to_strivacity", line, str(email), "POST", "accounts",
                             value))
    return ops


def _update_strivacity(path: Path, lines: list[tuple[int, dict[str, Any]]]) -> list[Operation]:
    return [Operation("update_strivacity", line, str(_need(value, "accountId", path, line)),
                      "BULK", "bulk", value) for line, value in lines]


_BUILDERS = {"update_dynamics": _update_dynamics, "create_in_dynamics": _create_in_dynamics,
             "migrate_to_strivacity": _migrate, "update_strivacity": _update_strivacity}


def operations(run_dir: Path, batch: str) -> list[Operation]:
    """Every operation of one batch file of the run folder (none if the file is absent)."""
    path = run_dir / BATCHES_DIR / BATCHES[batch][1]
    return _BUILDERS[batch](path, read_lines(path))


def run_id(run_dir: Path) -> str:
    """The run's id: a digest of its four batch files (name and content), absent ones included.

    A folder reconciled again with other data gets another id, so its old journal cannot
    mark the new operations done.
    """
    digest = hashlib.sha256()
    for name, (_, file) in BATCHES.items():
        path = run_dir / BATCHES_DIR / file
        digest.update(name.encode("utf-8") + b"\0")
        if path.is_file():
            with path.open("rb") as content:
                digest.update(hashlib.file_digest(content, "sha256").digest())
        else:
            digest.update(b"absent")
    return digest.hexdigest()[:32]


def build_plan(run_dir: Path, target: str, url: str, only: tuple[str, ...] = (),
               limit: int | None = None) -> Plan:
    """The plan for ``target``: each chosen batch, cut to its first ``limit`` operations."""
    if limit is not None and limit < 0:
        raise ConfigError(f"--limit {limit}: give 0 or more operations per batch.")
    batches = {name: operations(run_dir, name)[:limit] for name in batch_names(target, only)}
    return Plan(target, url, batches, run_id(run_dir))


def link_of(body: dict[str, Any]) -> str | None:
    """The Dynamics contact id a create-account body carries in its link attribute."""
    node: Any = (body.get("local") or {}).get("metadata") or {}
    for part in LINK_PATH:
        node = node.get(part) if isinstance(node, dict) else None
    return str(node).lower() if node else None
