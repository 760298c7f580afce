"""``recon lookup``: one person in Dynamics and Strivacity, and what reconcile decides for them.

The address is normalised as the engine does (``email_key``: trimmed, ``mailto:``/``<>``
unwrapped, NFC, lower-cased, IDNA domain). Dataverse is asked for contacts whose
``emailaddress1..3`` contains its local part and ``@`` (case-insensitive), Strivacity for
accounts holding it in the forms it may store (as typed but cleaned, the key, the key with a
Unicode domain); what comes back is kept only when its own key is the same. The records their
links name are fetched too (the contact an account links to, the accounts that link to a found
contact), and those holding a found contact's second or third address; the engine runs on all
of them. Its buckets are what
a full reconcile decides for these records, since every rule of DESIGN §6 for a record looks
only at records sharing its key, a secondary key or its link.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recon.errors import ConfigError
from recon.fields import DEFAULT_FIELDS, FieldMap
from recon.normalize import email_address, email_key

SYSTEMS = ("dynamics", "strivacity")
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}?$")
#: The columns shown per record, in this order, when the frame has them.
SHOWN = ("side", "record_id", "email", "given_name", "family_name", "active", "link", "decision")


@dataclass(frozen=True)
class PersonLookup:
    """The records found for one address and, with both systems, the engine's decisions."""

    query: str
    key: str
    records: pd.DataFrame  # SHOWN columns, one row per record found
    drift: pd.DataFrame  # drift rows of the pairs among them
    systems: tuple[str, ...]
    buckets: pd.DataFrame | None = None  # the engine's side, record_id, bucket, reason

    def lines(self) -> list[str]:
        """What ``recon lookup`` prints."""
        head = f"{self.query.strip()!r} has the key {self.key!r}"
        if self.records.empty:
            return [head, "no record in " + " or ".join(self.systems) + " holds it"]
        lines = [head, self.records.to_string(index=False)]
        if not self.drift.empty:
            lines += ["drift of these pairs:", self.drift.to_string(index=False)]
        if len(self.systems) < 2:
            lines.append("(what reconcile decides needs both systems: --in both)")
        return lines


def email_forms(text: str) -> tuple[str, list[str]]:
    """The key of ``text`` and the forms to ask the systems for; an invalid address refuses."""
    value = pd.Series([text], dtype="string")
    keys, status = email_key(value)
    if pd.isna(keys.iloc[0]):
        raise ConfigError(f"{text!r} is not an email address recon can pair on "
                          f"({status.iloc[0]}); give an address such as anna@example.com.")
    key = str(keys.iloc[0])
    local, _, domain = key.rpartition("@")
    forms = [str(email_address(value).iloc[0]), key, f"{local}@{_unicode_domain(domain)}"]
    return key, list(dict.fromkeys(forms))


def _unicode_domain(domain: str) -> str:
    """The key's ASCII (punycode) domain as Unicode, as a system may store it."""
    labels = []
    for label in domain.split("."):
        try:
            labels.append(label[4:].encode("ascii").decode("punycode")
                          if label.startswith("xn--") else label)
        except UnicodeError:
            labels.append(label)
    return ".".join(labels)


def lookup_person(text: str, systems: Sequence[str] = SYSTEMS,
                  fields: FieldMap = DEFAULT_FIELDS) -> PersonLookup:
    """Find ``text``'s records in ``systems`` (settings from the environment) and decide them."""
    key, forms = email_forms(text)
    _check_settings(systems)
    dynamics = _DynamicsFinder(fields) if "dynamics" in systems else None
    strivacity = _StrivacityFinder(fields) if "strivacity" in systems else None
    contacts = dynamics.by_email(forms, key) if dynamics else _none()
    accounts = strivacity.by_email(forms, key) if strivacity else _none()
    if dynamics and strivacity:
        for other in _secondary_keys(contacts) - {key}:  # secondary_email_match needs them
            other_forms = email_forms(other)[1]
            contacts = _union(contacts, dynamics.by_email(other_forms, other))
            accounts = _union(accounts, strivacity.by_email(other_forms, other))
        wanted = set(accounts["link"].dropna()) - set(contacts["record_id"])
        contacts = _union(contacts, dynamics.by_ids(wanted))
        accounts = _union(accounts, strivacity.by_links(contacts["record_id"]))
        return _decided(text, key, contacts, accounts, fields)
    shown = pd.concat([contacts.assign(side="dynamics"), accounts.assign(side="strivacity")],
                      ignore_index=True).assign(decision="")
    return PersonLookup(text, key, _shown(shown), pd.DataFrame(), tuple(systems))


def _secondary_keys(contacts: pd.DataFrame) -> set[str]:
    columns = [c for c in ("email2_key", "email3_key") if c in contacts.columns]
    return {str(k) for c in columns for k in contacts[c].dropna()}


def _check_settings(systems: Sequence[str]) -> None:
    """Every missing setting of the systems asked for, at once (exit 2 before any request)."""
    from recon.settings import DataverseSettings, StrivacitySettings, live_settings
    if set(systems) == set(SYSTEMS):
        live_settings()
    elif "dynamics" in systems:
        DataverseSettings.from_env()
    else:
        StrivacitySettings.from_env()


def _decided(text: str, key: str, contacts: pd.DataFrame, accounts: pd.DataFrame,
             fields: FieldMap) -> PersonLookup:
    from recon.engine import reconcile
    result = reconcile(contacts, accounts, fields)
    buckets = result.buckets.set_index(["side", "record_id"])
    partners = {**dict(zip(result.matches["contactid"], result.matches["strivacity_id"],
                           strict=True)),
                **dict(zip(result.matches["strivacity_id"], result.matches["contactid"],
                           strict=True))}
    kinds = dict(zip(result.matches["contactid"], result.matches["match_type"], strict=True))
    kinds.update(zip(result.matches["strivacity_id"], result.matches["match_type"], strict=True))
    batched = _batched(result)
    rows = []
    for side, frame in (("dynamics", contacts), ("strivacity", accounts)):
        for record in frame.to_dict("records"):
            record_id = str(record["record_id"])
            bucket, reason = buckets.loc[(side, record_id), ["bucket", "reason"]]
            rows.append({**record, "side": side, "decision": _decision(
                side, record_id, str(bucket), reason, partners, kinds, batched)})
    records = _shown(pd.DataFrame(rows))
    return PersonLookup(text, key, records, result.drift.reset_index(drop=True), SYSTEMS,
                        result.buckets.reset_index(drop=True))


def _decision(side: str, record_id: str, bucket: str, reason: Any, partners: dict[str, str],
              kinds: dict[str, str], batched: dict[str, str]) -> str:
    if bucket == "matched":
        other = "account" if side == "dynamics" else "contact"
        return f"matched by {kinds[record_id]} with {other} {partners[record_id]}"
    if bucket == "review":
        return f"review: {reason}"
    batch = batched.get(record_id)
    return f"only in {side}" + (f": batched in {batch}" if batch else ": not batched")


def _batched(result: Any) -> dict[str, str]:
    """Record id -> the create batch it lands in (migrate_to_strivacity, create_in_dynamics)."""
    out: dict[str, str] = {}
    for name in ("migrate_to_strivacity", "create_in_dynamics"):
        frame = result.batch(name)
        column = next((c for c in ("record_id", "contactid", "strivacity_id", "source_id")
                       if c in frame.columns), None)
        for record_id in frame[column] if column else ():
            out[str(record_id)] = name
    return out


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in SHOWN if c in frame.columns]
    return frame[columns].astype("string").fillna("").reset_index(drop=True)


def _none() -> pd.DataFrame:
    return pd.DataFrame({"record_id": pd.Series(dtype="string"),
                         "link": pd.Series(dtype="string")})


def _union(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if b.empty:
        return a
    return pd.concat([a, b], ignore_index=True).drop_duplicates("record_id", ignore_index=True)


def _same_key(frame: pd.DataFrame, key: str, columns: Iterable[str]) -> pd.DataFrame:
    """The rows where one of ``columns`` has ``key`` as its email key."""
    hit = pd.Series(False, index=frame.index)
    for column in columns:
        if column in frame.columns:
            hit |= (frame[column] == key).fillna(False).astype(bool)
    return frame[hit].reset_index(drop=True)


class _DynamicsFinder:
    """Contacts from Dataverse by email (emailaddress1..3) or by contactid, as canonical rows."""

    def __init__(self, fields: FieldMap) -> None:
        from recon.dynamics.pull import connect, select_columns
        from recon.settings import DataverseSettings
        self.settings = DataverseSettings.from_env()
        self.client = connect(self.settings)
        self.fields = fields
        self.columns = tuple(dict.fromkeys([*select_columns(fields), "emailaddress2",
                                            "emailaddress3"]))

    def by_email(self, forms: Sequence[str], key: str) -> pd.DataFrame:
        from recon.dynamics import odata
        # contains(local@) also finds a stored " Anna@x.com", "mailto:anna@x.com" or a Unicode
        # domain; what it finds too many (LIKE wildcards such as _) the key comparison drops.
        needle = odata.quote(key.rpartition("@")[0] + "@")
        clauses = [f"contains({odata.name(c)},{needle})"
                   for c in ("emailaddress1", "emailaddress2", "emailaddress3")]
        frame = self._query(odata.any_of(clauses))
        return _same_key(frame, key, ("email_key", "email2_key", "email3_key"))

    def by_ids(self, ids: Iterable[str]) -> pd.DataFrame:
        guids = sorted(i.strip("{}") for i in ids if _GUID.match(str(i)))
        if not guids:
            return _none()
        from recon.dynamics import odata
        return self._query(odata.any_of(f"contactid eq {g}" for g in guids))

    def _query(self, filter_: str) -> pd.DataFrame:
        from recon.dynamics.frame import to_canonical
        from recon.dynamics.pull import ETAG, _query, read_pages, to_frame
        from recon.progress import NullProgress
        request = _query(self.client, self.columns, filter_)
        table = read_pages(self.client, request, self.columns, NullProgress()).table
        raw = to_frame(table.drop_columns([ETAG]) if ETAG in table.column_names else table)
        return to_canonical(raw, self.fields, source=f"{self.settings.url} (lookup)")


class _StrivacityFinder:
    """Accounts from the Admin API by email or by link attribute, as canonical rows."""

    def __init__(self, fields: FieldMap) -> None:
        from recon.settings import StrivacitySettings
        from recon.strivacity.pull import connect
        self.settings = StrivacitySettings.from_env()
        self.client = connect(self.settings)
        self.fields = fields

    def by_email(self, forms: Sequence[str], key: str) -> pd.DataFrame:
        found: dict[str, dict[str, Any]] = {}
        for form in forms:
            for name in ("emailNativeClaim", "loginIdentifier"):
                found.update((str(r.get("id")), r) for r in self._get({name: form}))
        return _same_key(self._canonical(found.values()), key, ("email_key",))

    def by_links(self, contact_ids: Iterable[str]) -> pd.DataFrame:
        """Accounts whose link attribute names one of the contacts (searchable attribute)."""
        ids = {str(i) for i in contact_ids}
        found: dict[str, dict[str, Any]] = {}
        for contact_id in sorted(ids):
            found.update((str(r.get("id")), r) for r in self._get(
                {f"attribute_{self.fields.link_attribute}": contact_id}))
        frame = self._canonical(found.values())
        return frame[frame["link"].isin(ids)].reset_index(drop=True)

    def _get(self, params: dict[str, str]) -> list[dict[str, Any]]:
        from recon.http import PageRequest
        url = self.client.accounts_url(self.settings.store)
        body = self.client.get_json(PageRequest(url, {**params, "page": "0", "size": "50"}))
        return [r for r in body if isinstance(r, dict)] if isinstance(body, list) else []

    def _canonical(self, records: Iterable[dict[str, Any]]) -> pd.DataFrame:
        from recon.strivacity.files import empty_strivacity, read_strivacity
        rows = list(records)
        with tempfile.TemporaryDirectory(prefix="recon-lookup-") as scratch:
            path = Path(scratch) / "accounts.ndjson"
            if not rows:
                return empty_strivacity(self.fields, str(path))
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            return read_strivacity(path, format="ndjson", fields=self.fields)


__all__ = ["PersonLookup", "email_forms", "lookup_person"]
