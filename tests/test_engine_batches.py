"""Batch decisions and the JSON lines each system takes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from canonical import dynamics, strivacity

from recon.engine import reconcile
from recon.fields import DEFAULT_FIELDS, FieldMap


def test_migrate_active_dynamics_only_contacts_as_create_bodies() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "Jo@X.com", "given_name": "Jo",
                            "family_name": "Roe", "phone": "+1 202 555 0100", "city": "Paris"},
                           {"id": "c2", "email": "in@x.com", "active": False}),
                  strivacity())
    assert list(r.batch_lines("migrate_to_strivacity")) == [{
        "language": "en-US",
        "email": {"id": "jo@x.com", "verified": False},
        "phone": {"id": "+12025550100"},
        "local": {"metadata": {
            "emails": {"primaryEmail": "jo@x.com"},
            "name": {"givenName": "Jo", "familyName": "Roe"},
            "addresses": {"locality": "Paris"},
            "crm": {"dynamicsContactId": "c1"}}},
    }]
    flat = r.batch("migrate_to_strivacity")
    assert flat["crm.dynamicsContactId"].tolist() == ["c1"]
    assert flat.columns[:4].tolist() == ["language", "identities.email.id",
                                         "identities.phone.id", "emails.primaryEmail"]


def test_migrate_leaves_out_a_phone_that_is_not_e164() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com", "phone": "ext 12"}), strivacity())
    (body,) = r.batch_lines("migrate_to_strivacity")
    assert "phone" not in body


def test_create_enabled_strivacity_only_accounts_as_contact_bodies() -> None:
    r = reconcile(dynamics(), strivacity(
        {"id": "a1", "email": "a@x.com", "given_name": "Ann", "family_name": "Lee"},
        {"id": "a2", "email": "b@x.com", "family_name": "Off", "enabled": False}))
    assert list(r.batch_lines("create_in_dynamics")) == [
        {"emailaddress1": "a@x.com", "firstname": "Ann", "lastname": "Lee"}]
    assert r.batch("create_in_dynamics")["strivacity_id"].tolist() == ["a1"]


def test_update_dynamics_lines_carry_etag_set_and_was() -> None:
    r = reconcile(
        dynamics({"id": "c1", "email": "a@x.com", "given_name": "Jo", "family_name": "Roe",
                  "etag": 'W/"42"', "city": "Paris"}),
        strivacity({"id": "a1", "email": "a@x.com", "given_name": "Joe", "family_name": "Roe",
                    "city": "Lyon"}))
    assert list(r.batch_lines("update_dynamics")) == [{
        "contactid": "c1", "etag": 'W/"42"',
        "set": {"firstname": "Joe", "address1_city": "Lyon"},
        "was": {"firstname": "Jo", "address1_city": "Paris"}}]


def test_active_with_a_strivacity_winner_sets_statecode() -> None:
    fields = FieldMap(tuple(replace(f, winner="strivacity") if f.name == "active" else f
                            for f in DEFAULT_FIELDS.fields))
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}),
                  strivacity({"id": "a1", "email": "a@x.com", "enabled": False}), fields)
    (line,) = r.batch_lines("update_dynamics")
    assert line["set"] == {"statecode": 1} and line["was"] == {"statecode": 0}


def test_update_strivacity_adds_the_link_to_email_pairs_and_dynamics_wins() -> None:
    fields = FieldMap(tuple(replace(f, winner="dynamics") if f.name == "city" else f
                            for f in DEFAULT_FIELDS.fields))
    d = dynamics({"id": "c2", "email": "b@x.com", "city": "Paris"},
                 {"id": "c1", "email": "a@x.com"}, {"id": "c3", "email": "c@x.com"})
    s = strivacity({"id": "a2", "email": "b@x.com", "city": "Lyon", "raw_store": "eu"},
                   {"id": "a1", "email": "a@x.com"},
                   {"id": "a3", "email": "zzz@x.com", "link": "c3"})
    lines = list(reconcile(d, s, fields).batch_lines("update_strivacity"))
    assert lines == [
        {"operation": "updatePersonalData", "identityStore": "default", "accountId": "a1",
         "value": {"crm": {"dynamicsContactId": "c1"}}},
        {"operation": "updatePersonalData", "identityStore": "eu", "accountId": "a2",
         "value": {"addresses": {"locality": "Paris"}, "crm": {"dynamicsContactId": "c2"}}},
    ]


def test_duplicates_and_review_records_are_never_batched() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "a@x.com"},
                           {"id": "c3", "email": "bad"}),
                  strivacity({"id": "a1", "email": "b@x.com"}, {"id": "a2", "email": "b@x.com",
                                                                "family_name": "F"}))
    assert r.summary["batches"] == {"migrate_to_strivacity": 0, "create_in_dynamics": 0,
                                    "update_dynamics": 0, "update_strivacity": 0}


def test_batch_lookup_names_valid_batches() -> None:
    with pytest.raises(KeyError, match="migrate_to_strivacity"):
        reconcile(dynamics(), strivacity()).batch("nope")


def test_a_linked_member_of_a_duplicate_group_is_reported_not_batched() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com", "city": "P"},
                           {"id": "c2", "email": "a@x.com", "city": "P"}),
                  strivacity({"id": "a1", "email": "a@x.com", "link": "c2", "city": "Q"}))
    assert r.matches["contactid"].tolist() == ["c2"]
    assert r.drift["action"].tolist() == ["report"]
    assert r.summary["batches"]["update_dynamics"] == 0
