"""Source values in batches, phones compared through libphonenumber, updates that would make a
duplicate (issue 10, points 1, 3 and 4): hand-built cases, several per class."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from canonical import dynamics, strivacity

from recon.engine import reconcile
from recon.errors import ConfigError
from recon.fields import DEFAULT_FIELDS, FieldMap, load_fields

US = replace(DEFAULT_FIELDS, phone_region="US")


def _winner(name: str, winner: str, fields: FieldMap = DEFAULT_FIELDS) -> FieldMap:
    return replace(fields, fields=tuple(replace(f, winner=winner) if f.name == name else f
                                        for f in fields.fields))


def _linked(d: dict, s: dict, fields: FieldMap = DEFAULT_FIELDS):  # type: ignore[no-untyped-def]
    return reconcile(dynamics({"id": "c1", "email": "a@x.com", "family_name": "Roe", **d}),
                     strivacity({"id": "a1", "email": "a@x.com", "family_name": "Roe",
                                 "link": "c1", **s}), fields)


# --- point 3: batches carry what the source holds -----------------------------------------

@pytest.mark.parametrize(("stored", "strivacity_value"), [
    ("+1 (415) 555-0199", "+14155550100"),
    ("  Jo  ", "Joe"),
    ("=SUM(A1)", "-Smith"),
    (" ", "Ann"),  # whitespace-only is blank: filled, and `was` still holds the space
])
def test_update_dynamics_was_is_what_dynamics_stored_byte_for_byte(
        stored: str, strivacity_value: str) -> None:
    field = "phone" if stored.startswith("+") else "given_name"
    r = _linked({field: stored}, {field: strivacity_value})
    (line,) = r.batch_lines("update_dynamics")
    column = "mobilephone" if field == "phone" else "firstname"
    assert line["was"] == {column: stored}
    assert line["set"] == {column: strivacity_value}


def test_set_holds_the_winning_value_as_its_side_holds_it() -> None:
    r = _linked({"city": "Paris"}, {"city": "  São  Paulo "})
    (line,) = r.batch_lines("update_dynamics")
    assert line["set"] == {"address1_city": "  São  Paulo "}


def test_email_update_carries_the_address_never_the_key() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "old@x.com"}),
                  strivacity({"id": "a1", "email": " <Anna@Straße.de> ", "link": "c1"}))
    (line,) = r.batch_lines("update_dynamics")
    assert line["set"] == {"emailaddress1": "Anna@Straße.de"}
    assert line["was"] == {"emailaddress1": "old@x.com"}
    assert r.drift["strivacity_value"].tolist() == [" <Anna@Straße.de> "]  # as held


def test_migrate_carries_the_address_and_values_as_dynamics_holds_them() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "mailto:Anna@Straße.de", "given_name": "-Ann",
                            "family_name": "O'Brien", "phone": "+44 (0)20 7946 0958"}),
                  strivacity())
    (body,) = r.batch_lines("migrate_to_strivacity")
    assert body["email"] == {"id": "Anna@Straße.de", "verified": False}
    assert body["phone"] == {"id": "+442079460958"}  # E.164 from libphonenumber
    meta = body["local"]["metadata"]
    assert meta["emails"] == {"primaryEmail": "Anna@Straße.de"}
    assert meta["name"] == {"givenName": "-Ann", "familyName": "O'Brien"}


def test_create_carries_the_account_values_as_held() -> None:
    r = reconcile(dynamics(), strivacity({"id": "a1", "email": "Jo.Roe@Example.COM",
                                          "given_name": "Jo", "family_name": "de la Roe",
                                          "phone": "+14155550100", "city": "Zu\u0308rich"}))
    (body,) = r.batch_lines("create_in_dynamics")
    assert body["emailaddress1"] == "Jo.Roe@Example.COM"
    assert body["lastname"] == "de la Roe" and body["mobilephone"] == "+14155550100"
    assert body["address1_city"] == "Zu\u0308rich"  # not even NFC: the account's own text


def test_update_strivacity_sends_dynamics_values_as_held_and_phones_in_e164() -> None:
    fields = _winner("city", "dynamics", _winner("email", "dynamics", US))
    r = reconcile(dynamics({"id": "c1", "email": "New@X.com", "city": " Lyon"}),
                  strivacity({"id": "a1", "email": "old@x.com", "link": "c1", "city": "Paris"}),
                  fields)
    (line,) = r.batch_lines("update_strivacity")
    assert line["value"] == {"emails": {"primaryEmail": "New@X.com"},
                             "addresses": {"locality": " Lyon"}}


# --- point 1: phones ----------------------------------------------------------------------

@pytest.mark.parametrize(("ours", "theirs"), [
    ("+44 (0)20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
    ("+1 (415) 555-0100", "+14155550100"),
    ("+14155550100", "+14155550100"),
])
def test_one_number_in_two_spellings_is_no_drift(ours: str, theirs: str) -> None:
    assert _linked({"phone": ours}, {"phone": theirs}).drift.empty


@pytest.mark.parametrize("national", ["(415) 555-0100", "415-555-0100", "415 555 0100"])
def test_phone_region_reads_national_numbers(national: str) -> None:
    assert _linked({"phone": national}, {"phone": "+14155550100"}, US).drift.empty
    without = _linked({"phone": national}, {"phone": "+14155550100"})
    assert without.drift["field"].tolist() == ["phone"]  # unreadable without a region


def test_migrate_phone_identifier_uses_the_region() -> None:
    d = dynamics({"id": "c1", "email": "a@x.com", "phone": "(415) 555-0100"})
    (body,) = reconcile(d, strivacity(), US).batch_lines("migrate_to_strivacity")
    assert body["phone"] == {"id": "+14155550100"}
    (body,) = reconcile(d, strivacity()).batch_lines("migrate_to_strivacity")
    assert "phone" not in body


def test_an_unparseable_phone_is_never_written_and_always_listed() -> None:
    d = dynamics({"id": "c1", "email": "a@x.com", "phone": "(415) 555-0100"},
                 {"id": "c2", "email": "b@x.com", "phone": "ext. 12"},
                 {"id": "c3", "email": "c@x.com", "phone": "+1 415 555 0100"})
    s = strivacity({"id": "a1", "email": "z@x.com", "family_name": "Z", "phone": "12"},
                   {"id": "a2", "email": "b@x.com", "phone": "+14155550123"})
    r = reconcile(d, s)
    problems = r.problems
    assert problems[["side", "record_id", "field", "value"]].values.tolist() == [
        ["dynamics", "c1", "phone", "(415) 555-0100"], ["dynamics", "c2", "phone", "ext. 12"],
        ["strivacity", "a1", "phone", "12"]]
    assert problems["reason"].notna().all()
    assert r.summary["problems"] == {"phone": 3}
    bodies = {b["local"]["metadata"]["crm"]["dynamicsContactId"]: b
              for b in r.batch_lines("migrate_to_strivacity")}
    assert "phone" not in bodies["c1"] and bodies["c3"]["phone"] == {"id": "+14155550100"}
    (created,) = r.batch_lines("create_in_dynamics")
    assert "mobilephone" not in created
    # c2 pairs with a2: Strivacity's readable phone replaces the unreadable one
    (update,) = r.batch_lines("update_dynamics")
    assert update["set"] == {"mobilephone": "+14155550123"} and update["was"] == {
        "mobilephone": "ext. 12"}


def test_an_unparseable_winning_phone_is_reported_with_its_reason() -> None:
    r = _linked({"phone": "+14155550100"}, {"phone": "call me"})
    assert r.drift[["action", "reason"]].values.tolist() == [["report", "unparseable_phone"]]
    assert r.summary["batches"]["update_dynamics"] == 0
    assert _linked({"phone": "n/a"}, {"phone": " n/a"}).drift.empty  # one unreadable value


@pytest.mark.parametrize("region", ["us", "GB", "de"])
def test_phone_region_in_the_fields_file(tmp_path: Path, region: str) -> None:
    path = tmp_path / "fields.toml"
    path.write_text(f'phone_region = "{region}"\n', encoding="utf-8")
    assert load_fields(path).phone_region == region.upper()


@pytest.mark.parametrize("value", ['"USA"', '"XX"', "1", '""'])
def test_a_region_libphonenumber_does_not_know_is_a_config_error(tmp_path: Path,
                                                                  value: str) -> None:
    path = tmp_path / "fields.toml"
    path.write_text(f"phone_region = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"phone_region.*\"US\", \"GB\""):
        load_fields(path)


def test_phone_region_is_none_by_default() -> None:
    assert DEFAULT_FIELDS.phone_region is None and load_fields(None).phone_region is None


# --- point 4: no update that makes a duplicate ----------------------------------------------

def test_email_drift_to_an_address_another_contact_holds_is_reported() -> None:
    d = dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "New@X.com"})
    s = strivacity({"id": "a1", "email": "new@x.com", "link": "c1"})
    r = reconcile(d, s)
    assert r.drift[["field", "action", "reason"]].values.tolist() == [
        ["email", "report", "email_in_use"]]
    assert r.summary["batches"]["update_dynamics"] == 0


@pytest.mark.parametrize("slot", ["email2", "email3"])
def test_an_address_held_as_another_contacts_second_email_is_in_use(slot: str) -> None:
    d = dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "b@x.com",
                                                    slot: "NEW@x.com"})
    r = reconcile(d, strivacity({"id": "a1", "email": "new@x.com", "link": "c1"}))
    assert r.drift["reason"].tolist() == ["email_in_use"]


def test_the_contacts_own_second_email_is_not_another_record() -> None:
    d = dynamics({"id": "c1", "email": "a@x.com", "email2": "new@x.com"})
    r = reconcile(d, strivacity({"id": "a1", "email": "new@x.com", "link": "c1"}))
    (line,) = r.batch_lines("update_dynamics")
    assert line["set"] == {"emailaddress1": "new@x.com"}


def test_dynamics_winning_email_another_account_holds_is_reported() -> None:
    d = dynamics({"id": "c1", "email": "taken@x.com"})
    s = strivacity({"id": "a1", "email": "a@x.com", "link": "c1"},
                   {"id": "a2", "email": "Taken@X.com"})
    r = reconcile(d, s, _winner("email", "dynamics"))
    assert r.drift[["action", "reason"]].values.tolist() == [["report", "email_in_use"]]
    assert r.summary["batches"]["update_strivacity"] == 0


def test_email_drift_to_a_free_address_is_batched() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "b@x.com"}),
                  strivacity({"id": "a1", "email": "free@x.com", "link": "c1"}))
    assert r.drift["action"].tolist() == ["update_dynamics"] and r.drift["reason"].isna().all()


@pytest.mark.parametrize(("d", "s", "fields", "reason"), [
    ({"given_name": "Jo"}, {}, DEFAULT_FIELDS, "blank_winner"),
    ({"active": True}, {"enabled": False}, DEFAULT_FIELDS, "winner_report"),
    ({"phone": "+14155550100"}, {"phone": "+14155550111"}, _winner("phone", "dynamics"),
     "not_writable"),
    ({"city": "A"}, {"city": "B"}, _winner("city", "newest"), "no_newer_side"),
    ({"email": "a@x.com"}, {"email": "not an address"}, DEFAULT_FIELDS, "invalid_email"),
])
def test_every_reported_drift_says_why(d: dict, s: dict, fields: FieldMap, reason: str) -> None:
    r = _linked(d, s, fields)
    assert r.drift[["action", "reason"]].values.tolist() == [["report", reason]]


def test_drift_values_are_what_each_side_holds() -> None:
    r = _linked({"phone": "+1 (415) 555-0199"}, {"phone": "+14155550100"})
    row = r.drift.iloc[0]
    assert (row["dynamics_value"], row["strivacity_value"]) == ("+1 (415) 555-0199",
                                                               "+14155550100")
    assert pd.isna(row["reason"])
