"""The bulk: clean pairs, plain only-records and plain duplicate pairs, drawn a chunk at a time.

Random draws are vectorised with numpy per chunk (a generator seeded by ``(seed, chunk)``), so a
million people take seconds and memory stays bounded. Every flag that decides a record's fate
(linked, drifted, active) is drawn once here and read both by the record builders and by the
tally, so the truth follows what was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np

from recon.sample import truth as t
from recon.sample.pools import (
    BASE,
    DOMAINS,
    FAMILY,
    GIVEN,
    LANGUAGES,
    MIDDLE,
    PLACES,
    SPAN_SECONDS,
    STREETS,
    ascii_local,
)
from recon.sample.records import Account, Contact, Profile
from recon.sample.spec import Plan, SampleSpec

CASE, MATCHED, DYNAMICS_ONLY, STRIVACITY_ONLY, DYNAMICS_DUP, STRIVACITY_DUP = range(6)
#: Text fields a bulk drift may touch (Strivacity wins each).
DRIFT_FIELDS = ("given_name", "family_name", "street", "city", "postal_code")
AREAS = ("512", "206", "303", "617", "415")
_GIVEN_MAIL = tuple(ascii_local(n) for n in GIVEN)
_FAMILY_MAIL = tuple(ascii_local(n) for n in FAMILY)
#: Share of bulk records with each trait (flags 2.. of a slot; 0 and 1 are the spec's linked
#: and drift): active, middle name, no phone, attributes in local.metadata, E.164 spelling in
#: Dynamics, email verified, an emailaddress2 (on a work. domain no account uses),
#: emails.primaryEmail set.
TRAITS = (0.9, 0.3, 0.1, 0.2, 0.5, 0.9, 0.15, 0.9)
_BASE_MS = np.datetime64(BASE.replace(tzinfo=None), "ms")


def slot_roles(plan: Plan, cases: int, seed: int) -> np.ndarray:
    """The role of every slot (one bulk person or one planted case), in file order."""
    counts = (cases, plan.matched, plan.dynamics_only, plan.strivacity_only,
              plan.dynamics_groups, plan.strivacity_groups)
    roles = np.repeat(np.arange(6, dtype=np.int8), counts)
    return np.random.default_rng([seed, 0x5EED]).permutation(roles)


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = raw.tobytes().hex()
    return [f"{h[i:i+8]}-{h[i+8:i+12]}-{h[i+12:i+16]}-{h[i+16:i+20]}-{h[i+20:i+32]}"
            for i in range(0, 32 * n, 32)]


def _times(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    age = rng.integers(30 * 86400 * 1000, SPAN_SECONDS * 1000, n)
    created = _BASE_MS - age.astype("timedelta64[ms]")
    updated = created + rng.integers(0, age).astype("timedelta64[ms]")
    return (np.datetime_as_string(created, unit="ms").tolist(),
            np.datetime_as_string(updated, unit="ms").tolist())


@dataclass
class Draws:
    """Everything random about ``n`` consecutive slots, as Python lists (index = slot)."""

    ints: list[list[int]]
    flags: list[list[bool]]
    ids: tuple[list[str], list[str]]
    contact_times: tuple[list[str], list[str]]
    account_times: tuple[list[str], list[str]]

    @classmethod
    def of(cls, seed: int, chunk: int, n: int, spec: SampleSpec) -> Draws:
        """Draw a chunk; the same (seed, chunk, n, spec) always gives the same draws."""
        rng = np.random.default_rng([seed, chunk])
        highs = (len(GIVEN), len(FAMILY), len(MIDDLE), len(STREETS), len(PLACES), len(DOMAINS),
                 len(AREAS), 10000, 999, 100, len(LANGUAGES), len(DRIFT_FIELDS), 9 * 10**6)
        ints = np.stack([rng.integers(0, h, n) for h in highs], axis=1)
        u = rng.random((n, 2 + len(TRAITS)))
        limits = (spec.linked, spec.drift, *TRAITS)
        flags = u < np.array(limits)
        return cls(ints.tolist(), flags.tolist(), (_uuids(rng, n), _uuids(rng, n)),
                   _times(rng, n), _times(rng, n))


def _profile(d: Draws, j: int, number: int) -> tuple[Profile, Profile]:
    """A bulk person's values as Strivacity holds them and as Dynamics does (phone spelling)."""
    gi, fi, mi, si, pi, di, ai, line, house, zip2, _, _, _ = d.ints[j]
    _, _, _, has_middle, no_phone, _, e164_in_crm, _, _, _ = d.flags[j]
    city, region, postal, country = PLACES[pi]
    e164 = None if no_phone else f"+1{AREAS[ai]}555{line:04d}"
    crm_phone = e164 if e164_in_crm or e164 is None else f"+1 {AREAS[ai]} 555 {line:04d}"
    values = (f"{_GIVEN_MAIL[gi]}.{_FAMILY_MAIL[fi]}.{number}@{DOMAINS[di]}", GIVEN[gi],
              FAMILY[fi], MIDDLE[mi] if has_middle else None)
    place = (f"{house + 1} {STREETS[si]}", city, region, f"{postal}{zip2:02d}", country)
    return Profile(*values, e164, *place), Profile(*values, crm_phone, *place)


def _drifted(profile: Profile, d: Draws, j: int) -> tuple[Profile, str]:
    """The profile with one text field changed (always to a different value)."""
    gi, fi, _, si, pi, _, _, _, house, zip2, _, which, _ = d.ints[j]
    name = DRIFT_FIELDS[which]
    value = {"given_name": GIVEN[(gi + 1) % len(GIVEN)],
             "family_name": FAMILY[(fi + 1) % len(FAMILY)],
             "street": f"{house + 2} {STREETS[si]}",
             "city": PLACES[(pi + 1) % len(PLACES)][0],
             "postal_code": f"{PLACES[pi][2]}{(zip2 + 1) % 100:02d}"}[name]
    return profile._replace(**{name: value}), name


def _contact(d: Draws, j: int, profile: Profile, second: bool = False,
             active: bool = True) -> Contact:
    ids, times = d.ids[1 if second else 0], d.account_times if second else d.contact_times
    email2 = profile.email.replace("@", "@work.") if d.flags[j][8] and profile.email else None
    return Contact(ids[j], profile, times[0][j], times[1][j], active, email2,
                   version=10**6 + d.ints[j][12])


def _account(d: Draws, j: int, profile: Profile, second: bool = False, active: bool = True,
             link: str | None = None) -> Account:
    ids, times = d.ids[0 if second else 1], d.contact_times if second else d.account_times
    _, _, _, _, _, metadata, _, verified, _, email_attr = d.flags[j]
    return Account(ids[j], profile, times[0][j], times[1][j], active, link, metadata,
                   email_attr, verified, LANGUAGES[d.ints[j][10]])


@cache
def outcome(kind: str, detail: str = "") -> t.Tally:
    """The shared tally of one bulk outcome (kind: link, email, only_dynamics, ...)."""
    tallies = {
        "link": t.link_pair, "email": t.email_pair,
        "only_dynamics": lambda: t.only("dynamics", detail == "active"),
        "only_strivacity": lambda: t.only("strivacity", detail == "active"),
        "dup_dynamics": lambda: t.duplicate_group("dynamics", 2),
        "dup_strivacity": lambda: t.duplicate_group("strivacity", 2),
    }
    tally = tallies[kind]()
    return tally + t.drift(detail) if kind in ("link", "email") and detail else tally


def bulk_person(role: int, d: Draws, j: int, number: int
                ) -> tuple[list[Contact], list[Account], t.Tally]:
    """The records of bulk slot ``j`` (global slot ``number``) and what they add to the truth."""
    theirs, ours = _profile(d, j, number)
    linked, drifted, active = d.flags[j][0], d.flags[j][1], d.flags[j][2]
    state = "active" if active else "inactive"
    if role == MATCHED:
        c = _contact(d, j, ours)
        field = ""
        if drifted:
            theirs, field = _drifted(theirs, d, j)
        account = _account(d, j, theirs, link=c.id if linked else None)
        return [c], [account], outcome("link" if linked else "email", field)
    if role == DYNAMICS_ONLY:
        return [_contact(d, j, ours, active=active)], [], outcome("only_dynamics", state)
    if role == STRIVACITY_ONLY:
        return [], [_account(d, j, theirs, active=active)], outcome("only_strivacity", state)
    if role == DYNAMICS_DUP:
        shout = ours._replace(email=f"{ours.email}".upper())
        return ([_contact(d, j, ours), _contact(d, j, shout, second=True, active=False)], [],
                outcome("dup_dynamics"))
    if role == STRIVACITY_DUP:
        shout = theirs._replace(email=f"{theirs.email}".upper())
        return ([], [_account(d, j, theirs), _account(d, j, shout, second=True, active=False)],
                outcome("dup_strivacity"))
    raise ValueError(f"slot role {role} is not a bulk role")


def chunks(total: int, size: int) -> Iterator[tuple[int, int, int]]:
    """``(chunk number, first slot, slot count)`` over ``total`` slots."""
    for number, start in enumerate(range(0, total, size)):
        yield number, start, min(size, total - start)
