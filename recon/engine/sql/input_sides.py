"""Each side's canonical columns as SQL over its raw export (``input_files.Raw``).

Written from the loaders' own definitions (``recon.dynamics.frame``, ``recon.strivacity.frame``):
the same source columns, the same lookup order, the same conversions (``input_sql``). ``bad``
holds what SQL cannot decide exactly (a word that is not a flag, a non-ASCII id, a JSON number
where text is expected...): where any is true, the loader reads the file instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from recon.convert import FALSE_WORDS, TRUE_WORDS, Origin, check_columns
from recon.dynamics import frame as dynamics
from recon.engine.sql.input_files import Raw
from recon.engine.sql.input_sql import (
    blank,
    coalesce,
    flag,
    flag_bad,
    guid,
    literal,
    trimmed,
    unblank,
)
from recon.errors import InputError
from recon.fields import DYNAMICS_REQUIRED, MAPPED, FieldMap, check_named
from recon.strivacity import frame as strivacity

NULL = "CAST(NULL AS VARCHAR)"


@dataclass(frozen=True)
class Columns:
    """A side's columns over its raw table: ``select`` (the text and flags each record has),
    ``bad`` (checks: true where the loader must decide), ``counted`` (columns the export must
    hold: with no value at all, the loader decides whether the column is there), and the
    columns whose email keys and times are needed (``updated`` first)."""

    select: dict[str, str]
    bad: dict[str, str]
    counted: tuple[str, ...]
    emails: tuple[str, ...]
    stamps: tuple[str, ...]
    extra: tuple[str, ...]  # the side's own columns after ``active``, as the plan reads them


def compositions(name: str) -> list[tuple[str, ...]]:
    """Every way to spell a dotted column as JSON keys: ``a.b`` is ``{"a": {"b"}}`` or
    ``{"a.b"}``."""
    parts = name.split(".")
    spelled: list[tuple[str, ...]] = [(parts[0],)]
    for part in parts[1:]:
        spelled = [*(s + (part,) for s in spelled), *(s[:-1] + (f"{s[-1]}.{part}",)
                                                      for s in spelled)]
    return spelled


def _text(raw: Raw, name: str) -> str:
    return blank(raw.values[name]) if name in raw.values else NULL


def _json_checks(raw: Raw, times: tuple[str, ...]) -> dict[str, str]:
    """JSON values SQL cannot read as the loader does: text that may be a JSON number other than
    a plain integer, an object or an array (pyarrow types those). Text that looks like a date
    stays text on both paths (``readers._json_table``)."""
    if not raw.json:
        return {}
    return {f"json_{k}": f"recon_json_doubt({value})"
            for k, (name, value) in enumerate(raw.values.items()) if name not in times}


def dynamics_wanted(fields: FieldMap) -> tuple[str, ...]:
    return tuple(dict.fromkeys((
        dynamics.ID, fields["email"].dynamics, *(fields[m].dynamics for m in MAPPED),
        fields["active"].dynamics, *dynamics.TIMES.values(), dynamics.ETAG, dynamics.VERSION,
        *dynamics.SECONDARY_EMAILS.values())))


def dynamics_columns(raw: Raw, fields: FieldMap, source: str) -> Columns | None:
    """The canonical Dynamics columns (``recon.dynamics.frame.to_canonical``)."""
    email = fields["email"].dynamics
    if raw.names is not None and not _names_ok(
            raw.names, lambda: _dynamics_names(raw.names or (), fields, source)):
        return None
    text = lambda name: _text(raw, name)  # noqa: E731
    state = text(fields["active"].dynamics)
    select = {"record_id": guid(text(dynamics.ID)), "email": text(email),
              **{m: text(fields[m].dynamics) for m in MAPPED},
              "active": flag(state, dynamics.STATE_ACTIVE, dynamics.STATE_INACTIVE),
              "etag": f"COALESCE({text(dynamics.ETAG)}, 'W/\"' || {text(dynamics.VERSION)} "
                      "|| '\"')",
              **{f"{k}_raw": text(c) for k, c in dynamics.SECONDARY_EMAILS.items()},
              "updated": text(dynamics.TIMES["updated_at"]),
              "created": text(dynamics.TIMES["created_at"])}
    identifier = text(dynamics.ID)
    bad = {"id_text": f"({identifier} IS NOT NULL AND NOT recon_ascii({trimmed(identifier)}))",
           "active": flag_bad(state, dynamics.STATE_ACTIVE, dynamics.STATE_INACTIVE),
           **_json_checks(raw, tuple(dynamics.TIMES.values()))}
    counted: tuple[str, ...] = ()
    if raw.names is None:
        named = [fields[f].dynamics for f, side in fields.named if side == "dynamics"]
        counted = tuple(dict.fromkeys(text(c) for c in (email, *named)))
    return Columns(select, bad, counted, ("email", "email2_key_raw", "email3_key_raw"),
                   ("updated", "created"), ("etag", "email2_key", "email3_key"))


def _names_ok(names: tuple[str, ...], check: Callable[[], None]) -> bool:
    """The loader's column checks pass on the file's own column names."""
    if len(set(names)) != len(names):
        return False
    try:
        check()
    except InputError:
        return False
    return True


def _dynamics_names(names: tuple[str, ...], fields: FieldMap, source: str) -> None:
    if dynamics.ID not in names and any(n.lower() == "(do not modify) contact" for n in names):
        raise InputError("an Excel export saved as CSV: the loader maps its display names")
    required = tuple(dict.fromkeys((DYNAMICS_REQUIRED[0], fields["email"].dynamics)))
    check_columns(pd.Index(names), required, Origin(source, header_line=1), "")
    check_named(fields, "dynamics", lambda column: column in names, source)


def strivacity_wanted(fields: FieldMap) -> tuple[str, ...]:
    paths = [p for f in fields.fields for p in f.strivacity] + [fields.link_attribute]
    return tuple(dict.fromkeys((strivacity.ID, strivacity.STORE, strivacity.EMAIL_VERIFIED,
                                *strivacity.TIMES.values(),
                                *(c for p in paths for c in strivacity.columns_for(p)))))


def strivacity_key_paths(name: str) -> list[tuple[str, ...]]:
    """An account column's JSON spellings: its attribute root nested, the path spelled freely."""
    for root in strivacity.ATTRIBUTE_ROOTS[:-1]:
        if name.startswith(root):
            fixed = tuple(root.rstrip(".").split("."))
            return [fixed + keys for keys in compositions(name[len(root):])]
    return compositions(name)


def strivacity_columns(raw: Raw, fields: FieldMap, source: str, store: str) -> Columns | None:
    """The canonical Strivacity columns (``recon.strivacity.frame.to_canonical``)."""
    if raw.names is not None and not _names_ok(
            raw.names, lambda: _strivacity_names(raw.names or (), fields, source)):
        return None
    text = lambda name: _text(raw, name)  # noqa: E731

    def resolve(paths: tuple[str, ...]) -> str:
        return coalesce([unblank(text(c)) for p in paths for c in strivacity.columns_for(p)
                         if c in raw.values])
    active, link = resolve(fields["active"].strivacity), resolve((fields.link_attribute,))
    verified = text(strivacity.EMAIL_VERIFIED)
    select = {"record_id": f"NULLIF({trimmed(text(strivacity.ID))}, '')",
              "email": resolve(fields["email"].strivacity),
              **{m: resolve(fields[m].strivacity) for m in MAPPED},
              "active": flag(active, TRUE_WORDS, FALSE_WORDS), "link": guid(link),
              "store": f"COALESCE(NULLIF({trimmed(text(strivacity.STORE))}, ''), "
                       f"{literal(store)})",
              "updated": text(strivacity.TIMES["updated_at"]),
              "created": text(strivacity.TIMES["created_at"])}
    bad = {"active": flag_bad(active, TRUE_WORDS, FALSE_WORDS),
           "verified": flag_bad(verified, TRUE_WORDS, FALSE_WORDS),
           "link_text": f"({link} IS NOT NULL AND NOT recon_ascii({trimmed(link)}))",
           **_json_checks(raw, tuple(strivacity.TIMES.values()))}
    counted: tuple[str, ...] = ()
    if raw.names is None:
        named = [fields[f].strivacity for f, side in fields.named if side == "strivacity"]
        counted = tuple(dict.fromkeys(
            coalesce([text(c) for p in paths for c in strivacity.columns_for(p)])
            for paths in (fields["email"].strivacity, *named)))
    return Columns(select, bad, counted, ("email",), ("updated", "created"), ("link", "store"))


def _strivacity_names(names: tuple[str, ...], fields: FieldMap, source: str) -> None:
    check_columns(pd.Index(names), (strivacity.ID,), Origin(source, header_line=1), "")
    if not any(c in names for p in fields["email"].strivacity
               for c in strivacity.columns_for(p)):
        raise InputError("no email column")
    check_named(fields, "strivacity",
                lambda path: any(c in names for c in strivacity.columns_for(path)), source)
