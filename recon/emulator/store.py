"""The emulator's two tenants in memory: Dataverse contacts and Strivacity accounts.

Both are thread-safe and cheap at 200,000 records: contacts are tuples against one column list,
accounts are kept as their compact JSON text plus a few indexed fields. Every write bumps what
the real service bumps (``versionnumber``/``modifiedon``, ``updatedAt``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

Row = dict[str, Any]

CONTACT_COLUMNS = (
    "contactid", "emailaddress1", "emailaddress2", "emailaddress3", "firstname", "middlename",
    "lastname", "fullname", "mobilephone", "telephone1", "address1_line1", "address1_city",
    "address1_stateorprovince", "address1_postalcode", "address1_country", "statecode",
    "statuscode", "createdon", "modifiedon", "versionnumber", "birthdate",
    "externaluseridentifier", "donotemail",
)
INT_COLUMNS = frozenset({"statecode", "statuscode", "versionnumber"})
BOOL_COLUMNS = frozenset({"donotemail"})
_TYPED = INT_COLUMNS | BOOL_COLUMNS
READ_ONLY_COLUMNS = frozenset({"fullname", "createdon", "modifiedon", "versionnumber"})
MAX_LENGTHS = {"firstname": 50, "middlename": 50, "lastname": 50, "emailaddress1": 100,
               "emailaddress2": 100, "emailaddress3": 100, "telephone1": 50, "mobilephone": 50}


def utc_now() -> str:
    """Now as Dataverse writes it: ISO 8601, whole seconds, ``Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def typed(column: str, value: Any) -> Any:
    """A seed value as Dataverse types it: ints for state/version, bools, ``None`` for empty."""
    if value is None or value == "":
        return None
    if column in INT_COLUMNS and not isinstance(value, int):
        return int(str(value).strip())
    if column in BOOL_COLUMNS and isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value


def contact_key(contactid: str) -> str:
    """The canonical key of a contact id: lower-case, no braces."""
    return contactid.strip().strip("{}").lower()


class ContactStore:
    """Dataverse ``contacts`` with a global row version, a deletion log and undoable changesets."""

    def __init__(self, rows: Iterable[Row], extra_columns: Iterable[str] = ()) -> None:
        extras = [c for c in extra_columns if c not in CONTACT_COLUMNS and not c.startswith("@")]
        self.columns: tuple[str, ...] = CONTACT_COLUMNS + tuple(extras)
        self.index = {name: i for i, name in enumerate(self.columns)}
        self._rows: dict[str, tuple[Any, ...]] = {}
        self._deleted: list[tuple[int, str]] = []
        self.lock = threading.RLock()
        self._undo: list[Callable[[], None]] | None = None
        self._version = 0
        self._seed(rows)
        self._sorted_ids = sorted(self._rows)

    def _seed(self, rows: Iterable[Row]) -> None:
        """Load seed rows quickly: only present columns are typed, one timestamp for all."""
        now, width, index = utc_now(), len(self.columns), self.index
        pending: list[list[Any]] = []
        for row in rows:
            values: list[Any] = [None] * width
            for name, value in row.items():
                if name in index and value is not None and value != "":
                    values[index[name]] = typed(name, value) if name in _TYPED else value
            values[0] = contact_key(values[0] or str(uuid.uuid4()))
            pending.append(values)
        vpos, created, modified = index["versionnumber"], index["createdon"], index["modifiedon"]
        self._version = max((v[vpos] or 0 for v in pending), default=0)
        for values in pending:
            values[created] = values[created] or now
            values[modified] = values[modified] or now
            values[vpos] = values[vpos] or self._next_version()
            self._fill_state(values)
            self._rows[values[0]] = tuple(values)

    def _fill_state(self, values: list[Any]) -> None:
        """Default statecode/statuscode and compute fullname, in place."""
        index = self.index
        if values[index["statecode"]] is None:
            values[index["statecode"]] = 0
        if values[index["statuscode"]] is None:
            values[index["statuscode"]] = 2 if values[index["statecode"]] == 1 else 1
        names = (values[index["firstname"]], values[index["lastname"]])
        values[index["fullname"]] = " ".join(n for n in names if n) or None

    @property
    def version(self) -> int:
        """The highest row version handed out so far (what a delta token remembers)."""
        return self._version

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    def _complete(self, values: Row, keep: bool = False) -> tuple[Any, ...]:
        """Fill server-computed columns; ``keep`` keeps seeded timestamps and versions."""
        values["contactid"] = contact_key(values.get("contactid") or str(uuid.uuid4()))
        now = utc_now()
        values["createdon"] = values.get("createdon") if keep and values.get("createdon") else now
        values["modifiedon"] = values.get("modifiedon") if keep and values.get("modifiedon") \
            else now
        if not (keep and values.get("versionnumber")):
            values["versionnumber"] = self._next_version()
        ordered = [values.get(c) for c in self.columns]
        self._fill_state(ordered)
        return tuple(ordered)

    def _as_row(self, record: tuple[Any, ...]) -> Row:
        return dict(zip(self.columns, record, strict=True))

    def record(self, contactid: str) -> tuple[Any, ...] | None:
        """The stored tuple for ``contactid`` (for the query engine), or ``None``."""
        return self._rows.get(contact_key(contactid))

    def get(self, contactid: str) -> Row | None:
        """A copy of one contact, or ``None`` when it does not exist."""
        record = self.record(contactid)
        return None if record is None else self._as_row(record)

    def all(self) -> list[Row]:
        """Copies of every contact, ordered by ``contactid``."""
        with self.lock:
            return [self._as_row(self._rows[i]) for i in self._sorted_ids]

    def ids(self) -> list[str]:
        """Every contact id in primary-key order (a snapshot)."""
        with self.lock:
            return list(self._sorted_ids)

    def records(self) -> list[tuple[Any, ...]]:
        """Every stored tuple in primary-key order (a snapshot, for planning queries)."""
        with self.lock:
            rows = self._rows
            return [rows[key] for key in self._sorted_ids]

    def records_of(self, keys: Iterable[str]) -> list[tuple[Any, ...]]:
        """The stored tuples for canonical ``keys`` (as ``ids()`` has them); gone ones skipped."""
        return [r for r in map(self._rows.get, keys) if r is not None]

    def create(self, row: Row) -> Row:
        """Insert a contact; server columns are computed. ``KeyError`` if the id is taken."""
        with self.lock:
            values = {c: typed(c, row.get(c)) for c in self.columns}
            for column in READ_ONLY_COLUMNS:
                values[column] = None
            record = self._complete(values)
            key = record[0]
            if key in self._rows:
                raise KeyError(key)
            self._insert(key, record)
            self._remember(lambda: self._remove(key))
            return self._as_row(record)

    def update(self, contactid: str, changes: Row) -> Row:
        """Change some columns of one contact; ``KeyError`` if it does not exist."""
        key = contact_key(contactid)
        with self.lock:
            old = self._rows[key]
            values = self._as_row(old)
            values.update({c: typed(c, v) for c, v in changes.items()
                           if c in self.index and c not in READ_ONLY_COLUMNS and c != "contactid"})
            values["versionnumber"] = None
            values["modifiedon"] = None
            record = self._complete(values, keep=True)
            self._rows[key] = record
            self._remember(lambda: self._rows.__setitem__(key, old))
            return self._as_row(record)

    def delete(self, contactid: str) -> bool:
        """Remove one contact and log the deletion for change tracking; ``False`` if absent."""
        key = contact_key(contactid)
        with self.lock:
            old = self._rows.get(key)
            if old is None:
                return False
            self._remove(key)
            self._deleted.append((self._next_version(), key))

            def undo() -> None:
                self._deleted.pop()
                self._insert(key, old)

            self._remember(undo)
            return True

    def _insert(self, key: str, record: tuple[Any, ...]) -> None:
        self._rows[key] = record
        bisect.insort(self._sorted_ids, key)

    def _remove(self, key: str) -> None:
        del self._rows[key]
        del self._sorted_ids[bisect.bisect_left(self._sorted_ids, key)]

    def _remember(self, undo: Callable[[], None]) -> None:
        if self._undo is not None:
            self._undo.append(undo)

    @contextmanager
    def transaction(self) -> Iterator[Callable[[], None]]:
        """Hold the store for a changeset; the yielded ``rollback()`` undoes its writes."""
        with self.lock:
            outer, self._undo = self._undo, []
            undo = self._undo

            def rollback() -> None:
                while undo:
                    undo.pop()()
                self._version += 1  # rows changed back: readers keyed by version must see it

            try:
                yield rollback
            finally:
                self._undo = outer

    def changes_since(self, version: int) -> tuple[list[str], list[str]]:
        """Ids changed (created or updated) and ids deleted after ``version``, oldest first."""
        vpos = self.index["versionnumber"]
        with self.lock:
            changed = sorted((r[vpos], k) for k, r in self._rows.items() if r[vpos] > version)
            gone = [k for v, k in self._deleted if v > version and k not in self._rows]
        return [k for _, k in changed], list(dict.fromkeys(gone))


def iso_ms_now() -> str:
    """Now as Strivacity writes it: ISO 8601 with milliseconds and ``Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def deep_merge(target: Row, changes: Row) -> Row:
    """A copy of ``target`` with ``changes`` merged in by path; explicit ``None`` clears a value."""
    merged = dict(target)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def account_emails(record: Row) -> set[str]:
    """The lower-cased emails an account is known by (its email identifier and primary email)."""
    identities = record.get("identities") or {}
    found = [(identities.get("email") or {}).get("id"),
             ((record.get("accountInfo") or {}).get("emails") or {}).get("primaryEmail"),
             (((identities.get("local") or {}).get("metadata") or {}).get("emails") or {})
             .get("primaryEmail")]
    return {e.strip().lower() for e in found if isinstance(e, str) and e.strip()}


class EmailConflict(Exception):
    """An account with this email already exists (the Admin API answers 409)."""


class AccountStore:
    """Strivacity accounts kept as compact JSON text, with an email index for conflicts."""

    def __init__(self, records: Iterable[Row], store: str = "default") -> None:
        self.store = store
        self._raw: dict[str, str] = {}
        self._emails: dict[str, str] = {}
        self._lock = threading.RLock()
        self.generation = 0  # bumped on every write, so list caches know when to drop
        for record in records:
            self._put(record)

    def _put(self, record: Row) -> Row:
        old = self._raw.get(record["id"])
        if old is not None:
            for email in account_emails(json.loads(old)):
                if self._emails.get(email) == record["id"]:
                    del self._emails[email]
        self._raw[record["id"]] = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        for email in account_emails(record):
            self._emails.setdefault(email, record["id"])
        self.generation += 1
        return record

    def raw(self, account_id: str) -> str | None:
        """The account's JSON text as the list endpoint sends it."""
        return self._raw.get(account_id)

    def get(self, account_id: str) -> Row | None:
        """A copy of one account, or ``None``."""
        text = self._raw.get(account_id)
        return None if text is None else json.loads(text)

    def all(self) -> list[Row]:
        """Copies of every account, in insertion order."""
        with self._lock:
            return [json.loads(text) for text in self._raw.values()]

    def ids(self) -> list[str]:
        """Every account id in insertion order (a snapshot)."""
        with self._lock:
            return list(self._raw)

    def owner_of(self, email: str) -> str | None:
        """The id of the account known by ``email`` (case-insensitive), if any."""
        return self._emails.get(email.strip().lower())

    def create(self, record: Row) -> Row:
        """Add an account; id and timestamps are filled in. ``EmailConflict`` on a taken email."""
        with self._lock:
            for email in account_emails(record):
                if email in self._emails:
                    raise EmailConflict(email)
            now = iso_ms_now()
            full = {"id": str(uuid.uuid4()), "store": self.store, "enabled": True,
                    "createdAt": now, "updatedAt": now, **record}
            return self._put(full)

    def update(self, account_id: str, changes: Row) -> Row:
        """Merge ``changes`` into one account and bump ``updatedAt``; ``KeyError`` if absent."""
        with self._lock:
            record = json.loads(self._raw[account_id])
            merged = deep_merge(record, changes)
            merged["updatedAt"] = iso_ms_now()
            return self._put(merged)

    def update_personal(self, account_id: str, attributes: Row) -> Row:
        """Apply ``PUT .../personal``/``updatePersonalData``: attributes merge into the account."""
        with self._lock:
            record = json.loads(self._raw[account_id])
            changes: Row = {"accountInfo": attributes}
            local = (record.get("identities") or {}).get("local")
            if isinstance(local, dict) and isinstance(local.get("metadata"), dict):
                changes["identities"] = {"local": {"metadata": attributes}}
            return self.update(account_id, changes)

    def set_enabled(self, account_id: str, enabled: bool) -> Row:
        """Enable or disable one account (``disabledAt`` follows)."""
        return self.update(account_id, {"enabled": enabled,
                                        "disabledAt": None if enabled else iso_ms_now()})

    def delete(self, account_id: str) -> bool:
        """Remove one account; ``False`` if absent."""
        with self._lock:
            text = self._raw.pop(account_id, None)
            if text is None:
                return False
            for email in account_emails(json.loads(text)):
                if self._emails.get(email) == account_id:
                    del self._emails[email]
            self.generation += 1
            return True
