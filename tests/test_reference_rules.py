"""The reference (tests/reference.py) on its own: hand-built cases of each rule of DESIGN §6 and
issue 10, and the invariants (partition, nothing held or duplicated is ever batched) on random
tenants. These make the oracle trustworthy without looking at the engine."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from canonical import dynamics, strivacity
from hypothesis import HealthCheck, given, settings
from reference import reference
from test_reference import Tenant, paired_tenants, tenants

from recon.fields import DEFAULT_FIELDS, FieldMap

US = replace(DEFAULT_FIELDS, phone_region="US")


def _winner(name: str, winner: str, fields: FieldMap = DEFAULT_FIELDS) -> FieldMap:
    return replace(fields, fields=tuple(replace(f, winner=winner) if f.name == name else f
                                        for f in fields.fields))


def _bucket(out: dict[str, Any], side: str, record_id: str) -> tuple[str, str | None]:
    b = out["buckets"]
    (row,) = b[(b["side"] == side) & (b["record_id"] == record_id)].itertuples()
    return row.bucket, row.reason


def _pairs(out: dict[str, Any]) -> set[tuple[str, str, str]]:
    m = out["matches"]
    return set(zip(m["match_type"], m["contactid"], m["strivacity_id"], strict=True))


def _drift(out: dict[str, Any]) -> list[list[Any]]:
    return out["drift"][["field", "action", "reason"]].values.tolist()


def _linked(d: dict, s: dict, fields: FieldMap = DEFAULT_FIELDS) -> dict[str, Any]:
    return reference(dynamics({"id": "c1", "email": "a@x.com", "family_name": "Roe", **d}),
                     strivacity({"id": "a1", "email": "a@x.com", "family_name": "Roe",
                                 "link": "c1", **s}), fields)


# --- pairing ------------------------------------------------------------------------------

def test_email_pair_on_the_normalised_key() -> None:
    out = reference(dynamics({"id": "c1", "email": " Jo@Example.COM "}),
                    strivacity({"id": "a1", "email": "mailto:jo@example.com"}))
    assert _pairs(out) == {("email", "c1", "a1")}
    assert out["matches"]["email_key"].tolist() == ["jo@example.com"]


def test_a_link_pairs_whatever_the_emails_say_even_without_one() -> None:
    out = reference(dynamics({"id": "c1", "email": "old@x.com"}, {"id": "c2"}),
                    strivacity({"id": "a1", "email": "new@x.com", "link": "c1"},
                               {"id": "a2", "link": "c2"}))
    assert _pairs(out) == {("link", "c1", "a1"), ("link", "c2", "a2")}
    assert out["matches"]["email_key"].tolist() == ["old@x.com", None]
    assert out["drift"][["contactid", "field", "action"]].values.tolist() == [
        ["c1", "email", "update_dynamics"]]


def test_dangling_and_shared_links_go_to_review_and_hold_their_keys() -> None:
    out = reference(dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "s@x.com"},
                             {"id": "c3", "email": "b@x.com"}),
                    strivacity({"id": "a1", "email": "a@x.com", "link": "gone"},
                               {"id": "a2", "email": "b@x.com", "link": "c2"},
                               {"id": "a3", "email": "z@x.com", "link": "c2"}))
    assert _bucket(out, "strivacity", "a1") == ("review", "dangling_link")
    assert _bucket(out, "dynamics", "c1") == ("review", "email_in_use")
    for side, rid in (("strivacity", "a2"), ("strivacity", "a3"), ("dynamics", "c2")):
        assert _bucket(out, side, rid) == ("review", "shared_link")
    assert _bucket(out, "dynamics", "c3") == ("review", "email_in_use")
    assert out["matches"].empty


def test_a_key_a_linked_record_holds_is_in_use_on_both_sides() -> None:
    out = reference(dynamics({"id": "c1", "email": "x@x.com"}, {"id": "c2", "email": "y@x.com"}),
                    strivacity({"id": "a1", "email": "y@x.com", "link": "c1"},
                               {"id": "a2", "email": "x@x.com"}))
    assert _pairs(out) == {("link", "c1", "a1")}
    assert _bucket(out, "dynamics", "c2") == ("review", "email_in_use")
    assert _bucket(out, "strivacity", "a2") == ("review", "email_in_use")


def test_duplicates_on_either_side_are_held_and_never_paired() -> None:
    out = reference(dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "A@x.com"},
                             {"id": "c3", "email": "b@x.com"}),
                    strivacity({"id": "a1", "email": "a@x.com"}, {"id": "a2", "email": "b@x.com"},
                               {"id": "a3", "email": " B@X.com"}))
    assert out["matches"].empty
    assert {_bucket(out, side, rid) for side, rid in (
        ("dynamics", "c1"), ("dynamics", "c2"), ("dynamics", "c3"), ("strivacity", "a1"),
        ("strivacity", "a2"), ("strivacity", "a3"))} == {("review", "duplicate_email")}
    assert out["duplicates"][["side", "record_id", "group_size"]].values.tolist() == [
        ["dynamics", "c1", 2], ["dynamics", "c2", 2], ["strivacity", "a2", 2],
        ["strivacity", "a3", 2]]
    assert out["summary"]["dynamics"]["duplicate_groups"] == 1


def test_a_linked_member_of_a_duplicate_group_stays_paired_and_is_never_batched() -> None:
    out = reference(dynamics({"id": "c1", "email": "a@x.com", "city": "P"},
                             {"id": "c2", "email": "a@x.com", "city": "P"}),
                    strivacity({"id": "a1", "email": "a@x.com", "link": "c2", "city": "Q"}))
    assert _pairs(out) == {("link", "c2", "a1")}
    assert _bucket(out, "dynamics", "c1") == ("review", "duplicate_email")
    assert out["duplicates"]["record_id"].tolist() == ["c1", "c2"]
    assert _drift(out) == [["city", "report", "duplicate_group"]]
    assert out["summary"]["batches"]["update_dynamics"] == 0


def test_the_survivor_is_active_then_newest_then_lowest_id() -> None:
    out = reference(dynamics(
        {"id": "c1", "email": "a@x.com", "active": False, "updated": "2025-01-01"},
        {"id": "c2", "email": "a@x.com", "updated": "2024-01-01"},
        {"id": "c3", "email": "a@x.com", "updated": "2024-06-01"},
        {"id": "c6", "email": "b@x.com"}, {"id": "c5", "email": "b@x.com"},
        {"id": "c7", "email": "c@x.com", "updated": None}, {"id": "c8", "email": "c@x.com"}),
        strivacity())
    survivors = dict(zip(out["duplicates"]["email_key"], out["duplicates"]["suggested_survivor"],
                         strict=False))
    assert survivors == {"a@x.com": "c3", "b@x.com": "c5", "c@x.com": "c8"}


def test_only_and_secondary_email_matches() -> None:
    out = reference(dynamics({"id": "c1", "email": "d@x.com"},
                             {"id": "c2", "email": "w@x.com", "email2": "a@x.com",
                              "email3": "Home@X.com"}),
                    strivacity({"id": "a1", "email": "a@x.com", "family_name": "A"},
                               {"id": "a2", "email": "home@x.com", "family_name": "B"},
                               {"id": "a3", "email": "s@x.com", "family_name": "S"}))
    assert _bucket(out, "dynamics", "c1") == ("only", None)
    assert _bucket(out, "strivacity", "a3") == ("only", None)
    for side, rid in (("dynamics", "c2"), ("strivacity", "a1"), ("strivacity", "a2")):
        assert _bucket(out, side, rid) == ("review", "secondary_email_match")


def test_a_secondary_address_that_a_paired_or_held_account_holds_is_no_match() -> None:
    """DESIGN §6.4 read as the engine reads it: "batching them would create the same person
    twice" needs both records to be batched, so only a Strivacity-only account counts."""
    out = reference(dynamics({"id": "c1", "email": "a@x.com"},
                             {"id": "c2", "email": "w@x.com", "email2": "a@x.com",
                              "email3": "d@x.com"}),
                    strivacity({"id": "a1", "email": "a@x.com"}, {"id": "a2", "email": "d@x.com"},
                               {"id": "a3", "email": "D@x.com"}))
    assert _bucket(out, "dynamics", "c2") == ("only", None)
    assert _bucket(out, "strivacity", "a2") == ("review", "duplicate_email")


@pytest.mark.parametrize(("email", "reason"), [(None, "missing_email"), ("  ", "missing_email"),
                                               ("<>", "missing_email"),
                                               ("not an email", "invalid_email")])
def test_missing_and_invalid_email(email: str | None, reason: str) -> None:
    out = reference(dynamics({"id": "c1", "email": email}),
                    strivacity({"id": "a1", "email": email}))
    assert _bucket(out, "dynamics", "c1") == ("review", reason)
    assert _bucket(out, "strivacity", "a1") == ("review", reason)
    value = email if reason == "invalid_email" else None
    assert out["review"]["value"].tolist() == [value, value]
    assert out["summary"]["dynamics"]["invalid_email"] == 1


def test_an_enabled_account_without_a_lastname_is_held_not_created() -> None:
    out = reference(dynamics(), strivacity({"id": "a1", "email": "a@x.com"},
                                           {"id": "a2", "email": "b@x.com", "family_name": " "},
                                           {"id": "a3", "email": "c@x.com", "enabled": False}))
    assert _bucket(out, "strivacity", "a1") == ("review", "missing_required_field")
    assert _bucket(out, "strivacity", "a2") == ("review", "missing_required_field")
    assert _bucket(out, "strivacity", "a3") == ("only", None)
    assert out["create_in_dynamics"].empty


# --- drift: comparers and winners ---------------------------------------------------------

def test_text_compares_normalised_and_keeps_case() -> None:
    assert _linked({"city": "New  York"}, {"city": " New York "})["drift"].empty
    assert _linked({"city": "Cafe\u0301"}, {"city": "Caf\u00e9"})["drift"].empty
    assert _drift(_linked({"city": "new york"}, {"city": "New York"})) == [
        ["city", "update_dynamics", None]]


@pytest.mark.parametrize(("ours", "theirs", "fields", "differs"), [
    ("+44 (0)20 7946 0958", "+442079460958", DEFAULT_FIELDS, False),
    ("(415) 555-0100", "+14155550100", US, False),
    ("(415) 555-0100", "+14155550100", DEFAULT_FIELDS, True),  # unreadable without a region
    ("n/a", " n/a", DEFAULT_FIELDS, False),  # one unreadable value in two spellings
    ("+14155550100", "+14155550199", DEFAULT_FIELDS, True),
])
def test_phone_compares_e164_read_in_the_region(ours: str, theirs: str, fields: FieldMap,
                                                 differs: bool) -> None:
    assert not _linked({"phone": ours}, {"phone": theirs}, fields)["drift"].empty == differs


def test_bool_is_reported_by_default_and_written_as_statecode_when_strivacity_wins() -> None:
    out = _linked({"active": True}, {"enabled": False})
    assert out["drift"][["dynamics_value", "strivacity_value", "action", "reason"]].values.tolist(
    ) == [["true", "false", "report", "winner_report"]]
    out = _linked({"active": True}, {"enabled": False}, _winner("active", "strivacity"))
    assert out["update_dynamics"][["column", "new", "old"]].values.tolist() == [
        ["statecode", "false", "true"]]


@pytest.mark.parametrize(("d", "s", "winner", "expected"), [
    ({"city": "A"}, {"city": "B"}, "strivacity", ["update_dynamics", None]),
    ({"city": "A"}, {"city": "B"}, "dynamics", ["update_strivacity", None]),
    ({"city": "A", "updated": "2024-06-01"}, {"city": "B", "updated": "2024-01-01"}, "newest",
     ["update_strivacity", None]),
    ({"city": "A", "updated": "2024-01-01"}, {"city": "B", "updated": "2024-06-01"}, "newest",
     ["update_dynamics", None]),
    ({"city": "A"}, {"city": "B"}, "newest", ["report", "no_newer_side"]),  # a tie
    ({"city": "A", "updated": None}, {"city": "B"}, "newest", ["report", "no_newer_side"]),
    ({"city": "A"}, {"city": "B"}, "report", ["report", "winner_report"]),
    ({"city": "A"}, {"city": "  "}, "strivacity", ["report", "blank_winner"]),
    ({}, {"city": "B"}, "dynamics", ["report", "blank_winner"]),
    ({"phone": "+14155550100"}, {"phone": "call me"}, "strivacity",
     ["report", "unparseable_phone"]),
    ({"phone": "+14155550100"}, {"phone": "+14155550111"}, "dynamics",
     ["report", "not_writable"]),
    ({"email": "a@x.com"}, {"email": "not an address"}, "strivacity",
     ["report", "invalid_email"]),
])
def test_every_winner_and_the_first_reason_that_holds_a_value(d: dict, s: dict, winner: str,
                                                              expected: list) -> None:
    field = next(k for k in ("city", "phone", "email") if k in d or k in s)
    out = _linked(d, s, _winner(field, winner))
    assert out["drift"][["action", "reason"]].values.tolist() == [expected]


def test_an_email_update_never_makes_a_duplicate_on_the_target() -> None:
    d = dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "b@x.com",
                                                    "email3": "NEW@x.com"},
                 {"id": "c3", "email": "taken@x.com"})
    s = strivacity({"id": "a1", "email": "new@x.com", "link": "c1"},
                   {"id": "a3", "email": "z@x.com", "link": "c3"}, {"id": "a4", "email": "A@x.com"})
    assert _drift(reference(d, s)) == [["email", "report", "email_in_use"],
                                       ["email", "update_dynamics", None]]
    assert _drift(reference(d, s, _winner("email", "dynamics"))) == [
        ["email", "report", "email_in_use"], ["email", "update_strivacity", None]]
    own = dynamics({"id": "c1", "email": "a@x.com", "email2": "new@x.com"})
    assert _drift(reference(own, s[:1])) == [["email", "update_dynamics", None]]


# --- batches: the source's values, the store, created ids and their links ------------------

def test_batches_carry_the_sources_values_never_keys() -> None:
    out = reference(dynamics({"id": "c1", "email": "mailto:Anna@Straße.de", "given_name": "-Ann",
                              "phone": "+44 (0)20 7946 0958"},
                             {"id": "c2", "email": "x@x.com", "given_name": "  Jo  ",
                              "phone": "+1 (415) 555-0199", "etag": 'W/"7"'}),
                    strivacity({"id": "a2", "email": "x@x.com", "given_name": "Joe",
                                "phone": "+14155550100", "family_name": "Roe"},
                               {"id": "a9", "email": " <Jo.Roe@Example.COM> ",
                                "family_name": "de la Roe", "city": "Zu\u0308rich",
                                "phone": "+1 415 555 0100"}))
    migrate = out["migrate_to_strivacity"].iloc[0]
    assert (migrate["identities.email.id"], migrate["emails.primaryEmail"],
            migrate["identities.phone.id"], migrate["name.givenName"],
            migrate["crm.dynamicsContactId"]) == ("Anna@Straße.de", "Anna@Straße.de",
                                                  "+442079460958", "-Ann", "c1")
    create = out["create_in_dynamics"].iloc[0]
    assert (create["emailaddress1"], create["lastname"], create["address1_city"],
            create["mobilephone"]) == ("Jo.Roe@Example.COM", "de la Roe", "Zu\u0308rich",
                                       "+1 415 555 0100")
    assert out["update_dynamics"].values.tolist() == [
        ["c2", 'W/"7"', "firstname", "Joe", "  Jo  "],
        ["c2", 'W/"7"', "lastname", "Roe", None],
        ["c2", 'W/"7"', "mobilephone", "+14155550100", "+1 (415) 555-0199"]]


def test_created_contacts_have_the_run_fixed_id_and_their_links_are_written_back() -> None:
    fields = _winner("city", "dynamics")
    out = reference(dynamics({"id": "c2", "email": "b@x.com", "city": "Paris"}),
                    strivacity({"id": "a1", "email": "a@x.com", "family_name": "L",
                                "store": "eu"},
                               {"id": "a2", "email": "b@x.com", "city": "Lyon", "store": "x:y"},
                               {"id": "a0", "email": "c@x.com", "family_name": "M"}), fields)
    ids = {rid: str(uuid.uuid5(uuid.UUID("acc1f690-28a5-4fb2-b601-38d14e9ba346"),
                               f"{len(store)}:{store}:{rid}"))
           for rid, store in (("a1", "eu"), ("a0", "default"))}
    assert out["create_in_dynamics"][["strivacity_id", "contactid"]].values.tolist() == [
        ["a0", ids["a0"]], ["a1", ids["a1"]]]
    assert out["update_strivacity"].values.tolist() == [
        ["a0", "default", "crm.dynamicsContactId", ids["a0"]],
        ["a1", "eu", "crm.dynamicsContactId", ids["a1"]],
        ["a2", "x:y", "addresses.locality", "Paris"],
        ["a2", "x:y", "crm.dynamicsContactId", "c2"]]
    assert out["summary"]["batches"] == {"migrate_to_strivacity": 0, "create_in_dynamics": 2,
                                         "update_dynamics": 0, "update_strivacity": 3}


def test_unreadable_phones_are_listed_and_never_written() -> None:
    out = reference(dynamics({"id": "c2", "email": "b@x.com", "phone": "ext. 12"},
                             {"id": "c1", "email": "a@x.com", "phone": "(415) 555-0100"}),
                    strivacity({"id": "a1", "email": "z@x.com", "family_name": "Z",
                                "phone": "12"}))
    assert out["problems"][["side", "record_id", "value"]].values.tolist() == [
        ["dynamics", "c1", "(415) 555-0100"], ["dynamics", "c2", "ext. 12"],
        ["strivacity", "a1", "12"]]
    assert out["summary"]["problems"] == {"phone": 3}
    assert out["migrate_to_strivacity"]["identities.phone.id"].tolist() == [None, None]
    assert out["create_in_dynamics"]["mobilephone"].tolist() == [None]
    assert reference(dynamics({"id": "c1", "email": "a@x.com", "phone": "(415) 555-0100"}),
                     strivacity(), US)["problems"].empty


# --- invariants on random tenants ---------------------------------------------------------

INVARIANT = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_partition(d: pd.DataFrame, s: pd.DataFrame, out: dict[str, Any]) -> None:
    b = out["buckets"]
    for side, frame in (("dynamics", d), ("strivacity", s)):
        rows = b[b["side"] == side]
        assert rows["record_id"].tolist() == frame["record_id"].tolist()
        assert set(rows["bucket"]) <= {"matched", "only", "review"}
        assert rows["reason"].notna().tolist() == (rows["bucket"] == "review").tolist()
        x = out["summary"][side]
        assert x["records"] == x["matched"] + x["only"] + x["review"] == len(frame)
        assert x["matched"] == out["summary"]["pairs"]["total"] == len(out["matches"])
        assert x["review"] == sum(x["review_reasons"].values()) == (
            out["review"]["side"] == side).sum()
    assert out["matches"]["contactid"].is_unique and out["matches"]["strivacity_id"].is_unique


def _batched(out: dict[str, Any]) -> dict[str, set[str]]:
    return {"dynamics": set(out["migrate_to_strivacity"]["crm.dynamicsContactId"])
            | set(out["update_dynamics"]["contactid"]),
            "strivacity": set(out["create_in_dynamics"]["strivacity_id"])
            | set(out["update_strivacity"]["accountId"])}


def _check_nothing_held_is_batched(out: dict[str, Any]) -> None:
    dup, held = out["duplicates"], out["review"]
    for side, ids in _batched(out).items():
        assert not ids & set(dup.loc[dup["side"] == side, "record_id"]), side
        assert not ids & set(held.loc[held["side"] == side, "record_id"]), side
    for name in ("migrate_to_strivacity", "create_in_dynamics"):
        assert out[name].iloc[:, 0 if name == "create_in_dynamics" else -1].is_unique


@INVARIANT
@given(tenants())
def test_the_reference_partitions_each_side(tenant: Tenant) -> None:
    d, s, fields = tenant
    _check_partition(d, s, reference(d, s, fields))


@INVARIANT
@given(paired_tenants())
def test_the_reference_never_batches_a_duplicate_or_held_record(tenant: Tenant) -> None:
    d, s, fields = tenant
    out = reference(d, s, fields)
    _check_partition(d, s, out)
    _check_nothing_held_is_batched(out)
