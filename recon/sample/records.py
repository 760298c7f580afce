"""The sample's record model and how each side renders it on disk.

A ``Profile`` holds the mapped values a person has; a ``Contact`` or an ``Account`` puts a
profile on one side with that side's own bookkeeping. Rendering follows the raw file shapes of
DESIGN §3 and the contract: Dataverse logical names for the CSV, Admin API account records
(attributes nested by path) for the NDJSON. The records are named tuples: immutable, and cheap
enough to build a million of.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, NamedTuple

#: Columns of ``dynamics_contacts.csv``, in order (Dataverse logical names).
CONTACT_COLUMNS = (
    "contactid", "emailaddress1", "emailaddress2", "emailaddress3", "firstname", "middlename",
    "lastname", "mobilephone", "telephone1", "address1_line1", "address1_city",
    "address1_stateorprovince", "address1_postalcode", "address1_country", "statecode",
    "createdon", "modifiedon", "versionnumber",
)


class Profile(NamedTuple):
    """The mapped values of one person as one side holds them (``None`` = blank)."""

    email: str | None
    given_name: str | None
    family_name: str | None
    middle_name: str | None = None
    phone: str | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Contact(NamedTuple):
    """One Dynamics contact row; timestamps are ``YYYY-MM-DDTHH:MM:SS.mmm`` (UTC, no zone)."""

    id: str
    profile: Profile
    created: str
    updated: str
    active: bool = True
    email2: str | None = None
    email3: str | None = None
    telephone1: str | None = None
    version: int = 1


class Account(NamedTuple):
    """One Strivacity account; ``link`` is written verbatim as ``crm.dynamicsContactId``.

    ``in_metadata`` puts the attributes in ``identities.local.metadata`` instead of
    ``accountInfo``; ``email_attr=False`` leaves the email only in ``identities.email.id``.
    """

    id: str
    profile: Profile
    created: str
    updated: str
    active: bool = True
    link: str | None = None
    in_metadata: bool = False
    email_attr: bool = True
    verified: bool = True
    language: str = "en-US"
    username: str | None = None


def contact_row(contact: Contact) -> list[str]:
    """The CSV cells of a contact, in ``CONTACT_COLUMNS`` order; blank is the empty string."""
    p = contact.profile
    return [
        contact.id, p.email or "", contact.email2 or "", contact.email3 or "",
        p.given_name or "", p.middle_name or "", p.family_name or "", p.phone or "",
        contact.telephone1 or "", p.street or "", p.city or "", p.region or "",
        p.postal_code or "", p.country or "", "0" if contact.active else "1",
        contact.created[:19] + "Z", contact.updated[:19] + "Z", str(contact.version),
    ]


def _attributes(account: Account) -> dict[str, Any]:
    """The nested attribute object (``name.givenName`` -> ``{"name": {"givenName": ...}}``)."""
    p = account.profile
    name = {"givenName": p.given_name, "familyName": p.family_name, "middleName": p.middle_name}
    address = {"streetAddress": p.street, "locality": p.city, "region": p.region,
               "postalCode": p.postal_code, "country": p.country}
    attrs: dict[str, Any] = {"name": {k: v for k, v in name.items() if v is not None}}
    if account.email_attr and p.email is not None:
        attrs["emails"] = {"primaryEmail": p.email}
    address = {k: v for k, v in address.items() if v is not None}
    if address:
        attrs["addresses"] = address
    if account.link is not None:
        attrs["crm"] = {"dynamicsContactId": account.link}
    return attrs


def account_record(account: Account) -> dict[str, Any]:
    """The Admin API ``AccountResponse`` shape of an account (contract, reference §2)."""
    p = account.profile
    identities: dict[str, Any] = {}
    if p.email is not None:
        identities["email"] = {"id": p.email, "verified": account.verified}
    if p.phone is not None:
        identities["phone"] = {"id": p.phone, "verified": False}
    local: dict[str, Any] = {"id": account.username or account.id}
    attrs = _attributes(account)
    if account.in_metadata:
        local["metadata"] = attrs
    identities["local"] = local
    return {
        "id": account.id, "store": "default", "enabled": account.active,
        "createdAt": account.created + "Z", "updatedAt": account.updated + "Z",
        "language": account.language, "identities": identities,
        "accountInfo": {} if account.in_metadata else attrs,
    }


_quote = json.encoder.encode_basestring


def _members(pairs: tuple[tuple[str, str | None], ...]) -> str:
    """``"k":"v"`` members of a JSON object, skipping blank values."""
    return ",".join([f'"{k}":{_quote(v)}' for k, v in pairs if v is not None])


def account_line(account: Account) -> str:
    """One NDJSON line, equal to ``json.dumps(account_record(account))`` but built directly.

    The bulk writes a million of these; templating them is several times faster than
    building and encoding dicts (a test checks both agree).
    """
    a, p = account, account.profile
    name = _members((("givenName", p.given_name), ("familyName", p.family_name),
                     ("middleName", p.middle_name)))
    attrs = [f'"name":{{{name}}}']
    if a.email_attr and p.email is not None:
        attrs.append(f'"emails":{{"primaryEmail":{_quote(p.email)}}}')
    address = _members((("streetAddress", p.street), ("locality", p.city), ("region", p.region),
                        ("postalCode", p.postal_code), ("country", p.country)))
    if address:
        attrs.append(f'"addresses":{{{address}}}')
    if a.link is not None:
        attrs.append(f'"crm":{{"dynamicsContactId":{_quote(a.link)}}}')
    info = "{" + ",".join(attrs) + "}"
    ids = []
    if p.email is not None:
        ids.append(f'"email":{{"id":{_quote(p.email)},"verified":{_bool(a.verified)}}}')
    if p.phone is not None:
        ids.append(f'"phone":{{"id":{_quote(p.phone)},"verified":false}}')
    local = _quote(a.username or a.id) + (f',"metadata":{info}' if a.in_metadata else "")
    ids.append(f'"local":{{"id":{local}}}')
    return (f'{{"id":{_quote(a.id)},"store":"default","enabled":{_bool(a.active)},'
            f'"createdAt":"{a.created}Z","updatedAt":"{a.updated}Z",'
            f'"language":{_quote(a.language)},"identities":{{{",".join(ids)}}},'
            f'"accountInfo":{"{}" if a.in_metadata else info}}}')


def _bool(value: bool) -> str:
    return "true" if value else "false"


def contact_line(contact: Contact) -> str:
    """One CSV line (with newline), as ``csv.writer`` would write it, quoting only if needed."""
    cells = contact_row(contact)
    line = ",".join(cells)
    if _NEEDS_QUOTES.search(line) is None and line.count(",") == len(cells) - 1:
        return line + "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


_NEEDS_QUOTES = re.compile(r'["\r\n]')
