"""Canonical columns and the field map between Dynamics columns and Strivacity attributes.

Every column name the rest of recon uses is named here once. A field map can be overridden
from a TOML file (``--fields FILE``); see ``load_fields``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import phonenumbers

from recon.errors import ConfigError, InputError

#: Columns of the canonical frame shared by both sides, in order (DESIGN §3). The mapped
#: columns hold each source's own value (text as read; an empty value is NA): the engine
#: compares them through ``recon.normalize`` and batches write them as the source holds them.
MAPPED = ("given_name", "family_name", "middle_name", "phone",
          "street", "city", "region", "postal_code", "country")
CANONICAL = ("record_id", "email", "email_key", "email_status", *MAPPED,
             "active", "created_at", "updated_at")
DYNAMICS_EXTRA = ("etag", "email2_key", "email3_key")
#: ``store``: the identity store an account lives in (the export's ``store``, else the setting
#: ``STRIVACITY_STORE``); updates for the account are aimed at it.
STRIVACITY_EXTRA = ("email_verified", "link", "store")
DYNAMICS_COLUMNS = CANONICAL + DYNAMICS_EXTRA
STRIVACITY_COLUMNS = CANONICAL + STRIVACITY_EXTRA

#: Prefix of unmapped source columns kept beside the canonical ones for analysts.
RAW_PREFIX = "raw_"

EMAIL_STATUSES = ("ok", "missing", "invalid")
COMPARERS = ("email", "text", "phone", "bool")
WINNERS = ("strivacity", "dynamics", "newest", "report")

DYNAMICS_REQUIRED = ("contactid", "emailaddress1")
DYNAMICS_CREATE_REQUIRED = ("lastname",)
LINK_ATTRIBUTE = "crm.dynamicsContactId"
#: Top-level keys of a field map file.
TOP_LEVEL = ("fields", "link_attribute", "phone_region")


@dataclass(frozen=True)
class Field:
    """One compared field: where it lives on each side, how to compare it, who wins."""

    name: str
    dynamics: str
    strivacity: tuple[str, ...]
    comparer: str = "text"
    winner: str = "strivacity"


@dataclass(frozen=True)
class FieldMap:
    """The whole field map: compared fields, the attribute that stores the link, and the
    region national phone numbers are read in (``None``: only international numbers parse)."""

    fields: tuple[Field, ...]
    link_attribute: str = LINK_ATTRIBUTE
    phone_region: str | None = None
    #: (field, side) pairs a field-map file set, and that file: what an export must then hold.
    named: frozenset[tuple[str, str]] = frozenset()
    source: str | None = None

    def __getitem__(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"{name!r} is not a mapped field; valid: {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


DEFAULT_FIELDS = FieldMap(fields=(
    Field("email", "emailaddress1", ("emails.primaryEmail", "identities.email.id"), "email"),
    Field("given_name", "firstname", ("name.givenName",)),
    Field("family_name", "lastname", ("name.familyName",)),
    Field("middle_name", "middlename", ("name.middleName",)),
    Field("phone", "mobilephone", ("identities.phone.id",), "phone"),
    Field("street", "address1_line1", ("addresses.streetAddress",)),
    Field("city", "address1_city", ("addresses.locality",)),
    Field("region", "address1_stateorprovince", ("addresses.region",)),
    Field("postal_code", "address1_postalcode", ("addresses.postalCode",)),
    Field("country", "address1_country", ("addresses.country",)),
    Field("active", "statecode", ("enabled",), "bool", "report"),
))


def load_fields(path: str | Path | None) -> FieldMap:
    """Read a TOML field map over the defaults; ``None`` gives the defaults.

    ``[fields.<canonical>]`` tables may set ``dynamics``, ``strivacity`` (a string or a list,
    first present wins), ``comparer`` and ``winner``; ``link_attribute`` and ``phone_region``
    (e.g. ``"US"``: the region national phone numbers are read in) sit at the top.
    """
    if path is None:
        return DEFAULT_FIELDS
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the field map ({exc}). "
                          "Fix the TOML syntax or pass another --fields file.") from exc
    unknown = set(data) - set(TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {sorted(unknown)}; "
                          f"valid: {', '.join(TOP_LEVEL)}.")
    by_name = {f.name: f for f in DEFAULT_FIELDS.fields}
    named: set[tuple[str, str]] = set()
    for name, spec in data.get("fields", {}).items():
        if name not in by_name:
            raise ConfigError(f"{path}: [fields.{name}] is not a canonical field; "
                              f"valid: {', '.join(by_name)}.")
        by_name[name] = _override(path, by_name[name], spec)
        named.update((name, side) for side in ("dynamics", "strivacity") if side in spec)
    return FieldMap(tuple(by_name.values()),
                    data.get("link_attribute", DEFAULT_FIELDS.link_attribute),
                    phone_region(path, data.get("phone_region")), frozenset(named), str(path))


def check_named(fields: FieldMap, side: str, has: Callable[[str], bool], where: str) -> None:
    """Each column or attribute the field-map file names for ``side`` is in the export.

    A default that an export lacks is a blank field (exports leave out empty columns); a name
    the user wrote and the export lacks is nearly always a typo, and would silently blank the
    field and batch the other side's values over it. ``has(name)``: the export holds it.
    """
    for field in fields.fields:
        if (field.name, side) not in fields.named:
            continue
        wanted = (field.dynamics,) if side == "dynamics" else field.strivacity
        if not any(has(name) for name in wanted):
            kind = "column" if side == "dynamics" else "attribute"
            default = DEFAULT_FIELDS[field.name]
            was = default.dynamics if side == "dynamics" else list(default.strivacity)
            raise InputError(
                f"the field map {fields.source} maps {field.name} to the {side} {kind} "
                f"{' or '.join(wanted)}, which this export does not have", file=where,
                column=wanted[0], fix=f"Correct [fields.{field.name}] {side} in "
                f"{fields.source} to one the export has (the default is {was!r}), or "
                "add it to the export")


def phone_region(path: str | Path, value: object) -> str | None:
    """A ``phone_region`` setting checked against the regions libphonenumber knows."""
    if value is None:
        return None
    region = value.strip().upper() if isinstance(value, str) else None
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{path}: phone_region = {value!r} is not a region libphonenumber "
                          "knows. Use a two-letter region code such as \"US\", \"GB\", "
                          "\"DE\" or \"FR\", or leave phone_region out to read only "
                          "international (+...) numbers.")
    return region


def _override(path: str | Path, field: Field, spec: dict) -> Field:
    allowed = {"dynamics", "strivacity", "comparer", "winner"}
    if not isinstance(spec, dict) or set(spec) - allowed:
        raise ConfigError(f"{path}: [fields.{field.name}] may only set {sorted(allowed)}.")
    for key, valid in (("comparer", COMPARERS), ("winner", WINNERS)):
        if key in spec and spec[key] not in valid:
            raise ConfigError(f"{path}: [fields.{field.name}] {key} = {spec[key]!r}; "
                              f"valid: {', '.join(valid)}.")
    changes = dict(spec)
    if isinstance(changes.get("strivacity"), str):
        changes["strivacity"] = (changes["strivacity"],)
    elif "strivacity" in changes:
        changes["strivacity"] = tuple(changes["strivacity"])
    return replace(field, **changes)
