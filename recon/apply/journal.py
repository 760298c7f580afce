"""The apply journal: one JSON line per step of each operation, fsync'd before anything is sent.

An operation is journaled ``sending`` before its request leaves and ``done``/``conflict``/
``failed`` after the answer. The last entry per key is the operation's state, so a run killed
at any point resumes knowing what is done and what has an unknown outcome (``sending``).
A dry run journals into memory: "do nothing" is an object, not an ``if``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from recon.private import private_dir, private_opener

SENDING, DONE, CONFLICT, FAILED = "sending", "done", "conflict", "failed"
OUTCOMES = (DONE, CONFLICT, FAILED)
Entry = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Outcome:
    """What became of one operation: ``state`` is one of ``OUTCOMES``.

    ``status`` is the HTTP status that decided it; ``error`` the server's message or code;
    ``note`` says how an outcome was learned when it was not a plain answer (e.g. a resend
    found the contact already created).
    """

    key: str
    state: str
    status: int | None = None
    error: str | None = None
    note: str | None = None
    detail: dict[str, Any] | None = None

    def entry(self, record: str) -> Entry:
        found: Entry = {"key": self.key, "record": record, "state": self.state,
                        "status": self.status}
        for name in ("error", "note", "detail"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        return found


class Journal(Protocol):
    """Where operation steps are written; ``states`` gives the last entry per key."""

    def write(self, entries: Iterable[Entry]) -> None: ...

    def states(self) -> dict[str, Entry]: ...


class MemoryJournal:
    """A journal that keeps entries in memory (dry runs, tests)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def write(self, entries: Iterable[Entry]) -> None:
        self.entries.extend({**e, "at": now()} for e in entries)

    def states(self) -> dict[str, Entry]:
        return {e["key"]: e for e in self.entries}


class FileJournal:
    """An append-only JSON-lines file; every ``write`` is flushed and fsync'd before returning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_dir(path.parent)

    def write(self, entries: Iterable[Entry]) -> None:
        text = "".join(json.dumps({**e, "at": now()}, ensure_ascii=False,
                                  separators=(",", ":")) + "\n" for e in entries)
        if not text:
            return
        with open(self.path, "a", encoding="utf-8", newline="\n", opener=private_opener) as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())

    def states(self) -> dict[str, Entry]:
        return {e["key"]: e for e in read_journal(self.path)}


def read_journal(path: Path) -> list[Entry]:
    """Every entry of a journal file; a line cut short by a kill mid-write is skipped."""
    if not path.is_file():
        return []
    entries = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            continue  # only the last line can be torn: it was never followed by a send
        if isinstance(entry, dict) and "key" in entry:
            entries.append(entry)
    return entries
