"""The planted cases: a few records for every situation of DESIGN §6, each with its expected effect.

Cases are small and never share an email key, a link or a record with another case or with the
bulk, so each one's effect on the summary can be stated on its own (see ``truth``). Planted
addresses live on ``cases.example.com`` (and ``bücher.de``); bulk addresses never do.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recon.sample import truth as t
from recon.sample.pools import Maker
from recon.sample.records import Account, Contact


@dataclass(frozen=True)
class Case:
    """One planted situation: its records and what it adds to the summary."""

    name: str
    description: str
    contacts: tuple[Contact, ...]
    accounts: tuple[Account, ...]
    tally: t.Tally
    notes: dict[str, Any] = field(default_factory=dict)

    def review(self) -> dict[str, str]:
        """Record id -> reason for the records this case holds out for review.

        Unless a case names them (``notes["review"]``), every record of a side the tally sends
        to review is held out, for the one reason the tally gives.
        """
        if "review" in self.notes:
            return dict(self.notes["review"])
        held: dict[str, str] = {}
        for side, records in (("dynamics", self.contacts), ("strivacity", self.accounts)):
            prefix = f"{side}.review_reasons."
            reasons = {k[len(prefix):]: v for k, v in self.tally.items() if k.startswith(prefix)}
            if not reasons:
                continue
            if len(reasons) != 1 or sum(reasons.values()) != len(records):
                raise ValueError(f"case {self.name}: name its review records in notes")
            held.update({r.id: next(iter(reasons)) for r in records})
        return held

    def drift(self) -> dict[str, str]:
        """Field -> action of the drift rows this case's pair should show (none if no drift)."""
        prefix = "drift.fields."
        action = "update_dynamics" if self.tally["batches.update_dynamics"] else "report"
        return {k[len(prefix):]: action for k in sorted(self.tally) if k.startswith(prefix)}

    def to_json(self) -> dict[str, Any]:
        """The case as truth.json lists it."""
        out = {"description": self.description,
               "dynamics": [c.id for c in self.contacts],
               "strivacity": [a.id for a in self.accounts],
               "expect": dict(sorted(self.tally.items()))}
        review = self.review()
        notes = {k: v for k, v in self.notes.items() if k != "review"}
        drift = self.drift()
        return {**out, **({"review": review} if review else {}),
                **({"drift": drift} if drift else {}), **notes}


def _case(name: str, description: str, contacts: list[Contact], accounts: list[Account],
          tally: t.Tally, **notes: Any) -> Case:
    return Case(name, description, tuple(contacts), tuple(accounts), tally, notes)


def _pairs(mk: Maker) -> list[Case]:
    """Records that pair, by link or by email, without drift unless stated."""
    cases = []
    for n in (1, 2):
        c = mk.contact(mk.profile())
        cases.append(_case(f"link_pair_{n}", "account links the contact; same values",
                           [c], [mk.linked(c)], t.link_pair()))
    c = mk.contact(mk.profile())
    cases.append(_case("link_pair_braced", "link written as {UPPER-CASE GUID}; still pairs",
                       [c], [mk.account(c.profile, link="{" + c.id.upper() + "}")],
                       t.link_pair()))
    c = mk.contact(mk.profile())
    cases.append(_case("link_pair_metadata", "linked account keeps its attributes in "
                       "identities.local.metadata", [c], [mk.linked(c, in_metadata=True)],
                       t.link_pair()))
    c = mk.contact(mk.profile())
    moved = c.profile._replace(email=f"moved.{c.profile.email}")
    cases.append(_case("link_email_changed", "linked pair whose email changed in Strivacity: "
                       "pairs by link, email drift, update_dynamics", [c],
                       [mk.linked(c, moved)], t.link_pair() + t.drift("email")))
    for n in (1, 2):
        c = mk.contact(mk.profile())
        cases.append(_case(f"email_exact_{n}", "same email, no link: pairs by email, "
                           "update_strivacity adds the link", [c], [mk.account(c.profile)],
                           t.email_pair()))
    cases += _email_variants(mk)
    return cases


def _email_variants(mk: Maker) -> list[Case]:
    """Email pairs whose raw addresses differ only in ways the email key removes."""
    variants = {
        "email_case_space": ("case and surrounding space differ",
                             " Jo.Roe.Case@Cases.Example.COM", "jo.roe.case@cases.example.com"),
        "email_nbsp": ("trailing no-break space and case differ",
                       "ann.lee.case@cases.example.com\u00a0", "Ann.Lee.Case@CASES.example.com"),
        "email_idn": ("internationalised domain vs its punycode",
                      "user.case@bücher.de", "user.case@xn--bcher-kva.de"),
    }
    cases = []
    for name, (what, dynamics, strivacity) in variants.items():
        c = mk.contact(mk.profile(email=dynamics))
        a = mk.account(c.profile._replace(email=strivacity))
        cases.append(_case(name, f"email pair: {what}", [c], [a], t.email_pair()))
    c = mk.contact(mk.profile())
    cases.append(_case("email_identifier_only", "account email only in identities.email.id "
                       "(no emails.primaryEmail): pairs by email",
                       [c], [mk.account(c.profile, email_attr=False)], t.email_pair()))
    c = mk.contact(mk.profile())
    cases.append(_case("email_pair_metadata", "unlinked account with attributes in "
                       "identities.local.metadata: pairs by email",
                       [c], [mk.account(c.profile, in_metadata=True)], t.email_pair()))
    c = mk.contact(mk.profile(family_name="Hartley"))
    a = mk.account(c.profile._replace(family_name="Hartley-Moss"))
    cases.append(_case("email_pair_drift", "email pair with family_name drift: one "
                       "update_dynamics line and one update_strivacity line (link)", [c], [a],
                       t.email_pair() + t.drift("family_name")))
    return cases


def _email_in_use(mk: Maker) -> Case:
    c1 = mk.contact(mk.profile())
    a1 = mk.linked(c1, c1.profile._replace(email=f"new.{c1.profile.email}"))
    a2 = mk.account(mk.profile(email=c1.profile.email))
    c3 = mk.contact(mk.profile(email=a1.profile.email))
    return _case("email_in_use", "link pair with changed email (email drift); a second account "
                 "holds the contact's email and a second contact the account's: both "
                 "email_in_use, and the drift is reported, never batched (writing the account's "
                 "address into the contact would duplicate the second contact)",
                 [c1, c3], [a1, a2],
                 t.link_pair() + t.drift("email", update=False)
                 + t.review("dynamics", "email_in_use")
                 + t.review("strivacity", "email_in_use"),
                 review={c3.id: "email_in_use", a2.id: "email_in_use"})


EARLY = "2020-01-15T10:00:00.000"


def _duplicates(mk: Maker) -> list[Case]:
    """Duplicate groups per side; the survivor is active first, then most recently updated."""
    p = mk.profile()
    keep = mk.contact(p, created=EARLY, updated="2024-11-02T09:00:00.000")
    other = mk.contact(p._replace(email=f"{p.email}".upper() + " "), active=False,
                       created=EARLY, updated="2024-12-01T09:00:00.000")
    group2 = _case("duplicate_dynamics_2", "two contacts share a key (case variant); the "
                   "active one survives although the inactive one is newer", [keep, other], [],
                   t.duplicate_group("dynamics", 2), suggested_survivor=keep.id)
    p = mk.profile()
    trio = [mk.contact(p, created=EARLY, updated=f"2024-0{m}-15T12:00:00.000")
            for m in (3, 8, 5)]
    group3 = _case("duplicate_dynamics_3", "three active contacts share a key; the most "
                   "recently updated survives", trio, [], t.duplicate_group("dynamics", 3),
                   suggested_survivor=trio[1].id)
    p = mk.profile()
    off = mk.account(p, active=False, created=EARLY, updated="2024-12-20T08:00:00.000")
    on = mk.account(p._replace(email=f"{p.email}".title()), created=EARLY,
                    updated="2024-06-20T08:00:00.000")
    group_s = _case("duplicate_strivacity_2", "two accounts share a key; the enabled one "
                    "survives although the disabled one is newer", [], [off, on],
                    t.duplicate_group("strivacity", 2), suggested_survivor=on.id)
    return [group2, group3, group_s]


def _secondary(mk: Maker) -> list[Case]:
    cases = []
    for slot in ("email2", "email3"):
        a = mk.account(mk.profile())
        c = mk.contact(mk.profile(), **{slot: f"{a.profile.email}".upper()})
        cases.append(_case(f"secondary_{slot}", f"Dynamics-only contact whose {slot} is a "
                           "Strivacity-only account's email: both secondary_email_match", [c], [a],
                           t.review("dynamics", "secondary_email_match")
                           + t.review("strivacity", "secondary_email_match")))
    return cases


def _bad_emails(mk: Maker) -> list[Case]:
    rows = [("dynamics", "missing_email", None), ("dynamics", "invalid_email",
             "jo.roe(at)cases.example.com"), ("dynamics", "invalid_email",
             "two@at@cases.example.com"), ("strivacity", "missing_email", None),
            ("strivacity", "invalid_email", "sam@@cases.example.com")]
    cases = []
    for n, (side, reason, email) in enumerate(rows, 1):
        p = mk.profile(email=email)
        contacts = [mk.contact(p)] if side == "dynamics" else []
        accounts = [mk.account(p)] if side == "strivacity" else []
        cases.append(_case(f"{reason}_{side}_{n}", f"{side} record with email {email!r}: "
                           f"review {reason}", contacts, accounts, t.review(side, reason)))
    return cases


def _only(mk: Maker) -> list[Case]:
    cases = [_case(f"inactive_dynamics_only_{n}", "inactive contact no account holds: "
                   "Dynamics-only, not migrated", [mk.contact(mk.profile(), active=False)], [],
                   t.only("dynamics", False)) for n in (1, 2)]
    cases += [_case(f"disabled_strivacity_only_{n}", "disabled account no contact holds: "
                    "Strivacity-only, not created", [], [mk.account(mk.profile(), active=False)],
                    t.only("strivacity", False)) for n in (1, 2)]
    cases.append(_case("strivacity_only_metadata", "enabled Strivacity-only account with "
                       "attributes in local.metadata and email only as identifier: created",
                       [], [mk.account(mk.profile(), in_metadata=True, email_attr=False)],
                       t.only("strivacity", True)))
    cases.append(_case("missing_family_name", "enabled Strivacity-only account without "
                       "name.familyName: review missing_required_field (lastname)", [],
                       [mk.account(mk.profile(family_name=None))],
                       t.review("strivacity", "missing_required_field")))
    for n, name in enumerate(("=1+2", "+Plus", "-Minus", "@At"), 1):
        c = mk.contact(mk.profile(given_name=name, family_name="=SUM(A1:A2)" if n == 1
                                  else "Formula"))
        cases.append(_case(f"csv_injection_{n}", f"active Dynamics-only contact named {name!r}: "
                           "migrated; the CSV must neutralise the cell", [c], [],
                           t.only("dynamics", True)))
    return cases


def _links(mk: Maker) -> list[Case]:
    dangling = mk.account(mk.profile(), link=mk.uuid())
    c = mk.contact(mk.profile())
    shared = [mk.linked(c, mk.profile()), mk.linked(c, mk.profile())]
    return [
        _case("dangling_link", "account links a contact that does not exist: review "
              "dangling_link", [], [dangling], t.review("strivacity", "dangling_link")),
        _case("shared_link", "two accounts (own emails) link the same contact: the accounts and "
              "the contact go to review shared_link", [c], shared,
              t.review("dynamics", "shared_link") + t.review("strivacity", "shared_link", 2)),
    ]


#: Drift in one field per pair: (dynamics value, strivacity value). Strivacity wins text.
FIELD_DRIFT = {
    "given_name": ("Katherine", "Kate"), "family_name": ("Lindqvist", "Lindqvist-Berg"),
    "middle_name": ("J.", "James"), "phone": ("+1 512 555 0101", "+15125550199"),
    "street": ("12 Oak Ave", "14 Elm St"), "city": ("Austin", "Round Rock"),
    "region": ("TX", "Texas"), "postal_code": ("78701", "78702-1234"),
    "country": ("United States", "USA"),
}


def _drift(mk: Maker) -> list[Case]:
    cases = []
    for name, (ours, theirs) in FIELD_DRIFT.items():
        c = mk.contact(mk.profile(**{name: ours}))
        cases.append(_case(f"drift_{name}", f"link pair, {name} {ours!r} vs {theirs!r}: "
                           "Strivacity wins, update_dynamics", [c],
                           [mk.linked(c, c.profile._replace(**{name: theirs}))],
                           t.link_pair() + t.drift(name)))
    c = mk.contact(mk.profile())
    cases.append(_case("drift_active_disabled", "active contact, disabled account: active "
                       "drift is report-only", [c], [mk.linked(c, active=False)],
                       t.link_pair() + t.drift("active", update=False)))
    c = mk.contact(mk.profile(), active=False)
    cases.append(_case("drift_active_inactive_contact", "inactive contact, enabled account: "
                       "report-only", [c], [mk.linked(c)],
                       t.link_pair() + t.drift("active", update=False)))
    c = mk.contact(mk.profile(given_name="Marta"))
    cases.append(_case("drift_blank_winner", "Strivacity lacks givenName: blank never "
                       "overwrites, drift row with action report", [c],
                       [mk.linked(c, c.profile._replace(given_name=None))],
                       t.link_pair() + t.drift("given_name", update=False)))
    c = mk.contact(mk.profile(city=None))
    cases.append(_case("drift_fill_dynamics_blank", "Dynamics city blank, Strivacity has one: "
                       "update_dynamics fills it", [c],
                       [mk.linked(c, c.profile._replace(city="Pflugerville"))],
                       t.link_pair() + t.drift("city")))
    c = mk.contact(mk.profile(given_name="anna"))
    cases.append(_case("drift_case_only", "given_name 'anna' vs 'Anna': case is kept, so drift",
                       [c], [mk.linked(c, c.profile._replace(given_name="Anna"))],
                       t.link_pair() + t.drift("given_name")))
    c = mk.contact(mk.profile(given_name="Robert", city="Dallas", postal_code="75201"))
    bob = c.profile._replace(given_name="Bob", city="Plano", postal_code="75024")
    cases.append(_case("drift_many", "three fields differ in one pair: one update_dynamics line",
                       [c], [mk.linked(c, bob)],
                       t.link_pair() + t.drift("given_name", "city", "postal_code")))
    return cases + _not_drift(mk)


def _not_drift(mk: Maker) -> list[Case]:
    """Differences the comparers must ignore."""
    c = mk.contact(mk.profile(phone="+1 512 555 0118"))
    phone = _case("no_drift_phone_format", "'+1 512 555 0118' vs '+15125550118': same E.164",
                  [c], [mk.linked(c, c.profile._replace(phone="+15125550118"))], t.link_pair())
    c = mk.contact(mk.profile(given_name="José", family_name="Núñez", city="Zürich"))
    nfd = {k: unicodedata.normalize("NFD", v) for k, v in
           (("given_name", "José"), ("family_name", "Núñez"), ("city", "Zürich"))}
    forms = _case("no_drift_unicode_forms", "names NFC in Dynamics, NFD in Strivacity: equal "
                  "after NFC", [c], [mk.linked(c, c.profile._replace(**nfd))], t.link_pair())
    c = mk.contact(mk.profile(given_name="  Mary   Ann ", street="5  Oak   Ave"))
    spaces = _case("no_drift_whitespace", "extra spaces only: trimmed and collapsed, no drift",
                   [c], [mk.linked(c, c.profile._replace(given_name="Mary Ann",
                                              street="5 Oak Ave"))], t.link_pair())
    return [phone, forms, spaces]


BUILDERS: tuple[Callable[[Maker], list[Case]], ...] = (
    _pairs, lambda mk: [_email_in_use(mk)], _duplicates, _secondary, _bad_emails, _only,
    _links, _drift,
)


def planted_cases(seed: int) -> list[Case]:
    """All planted cases for ``seed`` (ids and incidental values depend on it)."""
    mk = Maker(random.Random(f"recon-sample-cases-{seed}"))
    return [case for build in BUILDERS for case in build(mk)]
