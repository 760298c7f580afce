"""Batch decisions and the JSON lines each system takes."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pyarrow as pa
import pytest
from canonical import dynamics, strivacity
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.engine import reconcile
from recon.engine.batches import created_contact_id
from recon.engine.lines import ROW_LINES, TEXTS
from recon.fields import DEFAULT_FIELDS, FieldMap
from recon.normalize import STRING
from recon.runfolder import BATCH_NAMES


def test_migrate_active_dynamics_only_contacts_as_create_bodies() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "Jo@X.com", "given_name": "Jo",
                            "family_name": "Roe", "phone": "+1 202 555 0100", "city": "Paris"},
                           {"id": "c2", "email": "in@x.com", "active": False}),
                  strivacity())
    assert list(r.batch_lines("migrate_to_strivacity")) == [{
        "language": "en-US",
        "email": {"id": "Jo@X.com", "verified": False},
        "phone": {"id": "+12025550100"},
        "local": {"metadata": {
            "emails": {"primaryEmail": "Jo@X.com"},
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
    contactid = created_contact_id("default", "a1")
    assert list(r.batch_lines("create_in_dynamics")) == [
        {"contactid": contactid, "emailaddress1": "a@x.com", "firstname": "Ann",
         "lastname": "Lee"}]
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
    s = strivacity({"id": "a2", "email": "b@x.com", "city": "Lyon", "store": "eu"},
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
    assert r.summary["batches"] == dict.fromkeys(BATCH_NAMES, 0)


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


# The column-wise encoders (TEXTS) must give exactly the bytes json gives for the row-wise
# objects (ROW_LINES, their fallback).

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ODD = ['"', "\\", 'a"b\\c', "\n", "x\r\ny", "\x00", "a\x1fb", "\x7f", "\u2028", "ü€😀", "",
        "true", "false", None]
_VALUES = st.one_of(st.none(), st.sampled_from(_ODD), st.text(max_size=8))


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _text(name: str, frame: pd.DataFrame) -> list[str]:
    return TEXTS[name](_arrow(frame)).to_pylist()


def _expected(name: str, frame: pd.DataFrame) -> list[str]:
    return [_JSON.encode(line) for line in ROW_LINES[name](_arrow(frame))]


def _frame(columns: dict[str, list[str | None]]) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(v, dtype=STRING) for k, v in columns.items()})


def _migrate(rows: list[tuple[str | None, ...]], paths: list[str]) -> pd.DataFrame:
    names = ["language", "identities.email.id", "identities.phone.id", *paths]
    return _frame({n: [r[i % len(r)] for r in rows] for i, n in enumerate(names)})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_VALUES, _VALUES, _VALUES, _VALUES), max_size=6))
def test_migrate_text_is_json_of_the_lines(rows: list[tuple[str | None, ...]]) -> None:
    for paths in (["emails.primaryEmail", "name.givenName", "name.familyName", "crm.id"],
                  ["a.b.c", "a.b.d", "a.e", "f"],  # deeper nesting, a top-level key
                  ["name.givenName", "crm.id", "name.familyName"],  # a parent split in two
                  ["a", "a.b"]):  # a path that is also a parent
        frame = _migrate(rows, paths)
        try:
            expected = _expected("migrate_to_strivacity", frame)
        except TypeError:  # nest cannot put "a.b" under a string; nor may the text path lie
            with pytest.raises(TypeError):
                _text("migrate_to_strivacity", frame)
            continue
        assert _text("migrate_to_strivacity", frame) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_VALUES, _VALUES, _VALUES), max_size=6))
def test_create_text_is_json_of_the_lines(rows: list[tuple[str | None, ...]]) -> None:
    frame = _frame({"strivacity_id": [r[0] for r in rows], "emailaddress1": [r[1] for r in rows],
                    "lastname": [r[2] for r in rows]})
    assert _text("create_in_dynamics", frame) == _expected("create_in_dynamics", frame)
    only_id = frame[["strivacity_id"]]
    assert _text("create_in_dynamics", only_id) == ["{}"] * len(rows)


_IDS = st.sampled_from(["c1", "c2", "c3", None])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_IDS, st.sampled_from(["firstname", "statecode", "lastname"]),
                          _VALUES, _VALUES, _VALUES), max_size=8))
def test_update_dynamics_text_is_json_of_the_lines(rows: list[tuple[str | None, ...]]) -> None:
    # Unsorted ids and a column repeated for one contact exercise the row-by-row fallback.
    frame = _frame({name: [r[i] for r in rows]
                    for i, name in enumerate(("contactid", "column", "etag", "new", "old"))})
    assert _text("update_dynamics", frame) == _expected("update_dynamics", frame)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_IDS, _VALUES, st.sampled_from(
    ["name.givenName", "name.familyName", "crm.dynamicsContactId", "addresses.locality",
     "a.b.c", "x"]), _VALUES), max_size=8), st.booleans())
def test_update_strivacity_text_is_json_of_the_lines(rows: list[tuple[str | None, ...]],
                                                     two_levels: bool) -> None:
    if two_levels:  # the shape the engine makes: the column-wise path, not the fallback
        rows = [r for r in rows if r[2] not in ("a.b.c", "x")]
    frame = _frame({name: [r[i] for r in rows]
                    for i, name in enumerate(("accountId", "identityStore", "attribute", "value"))})
    assert _text("update_strivacity", frame) == _expected("update_strivacity", frame)


def test_texts_of_a_reconciliation_match_its_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    def row_by_row(lines: object) -> None:
        raise AssertionError("the engine's batches should be encoded column-wise")

    monkeypatch.setattr("recon.engine.lines._encoded", row_by_row)
    fields = FieldMap(tuple(replace(f, winner="dynamics") if f.name == "city" else f
                            for f in DEFAULT_FIELDS.fields))
    d = dynamics({"id": "c1", "email": "a@x.com", "city": 'Pa"ris\\', "given_name": "Jo\n"},
                 {"id": "c2", "email": "b@x.com", "family_name": "Ü\x01"},
                 {"id": "c3", "email": "c@x.com", "phone": "+12025550100"})
    s = strivacity({"id": "a1", "email": "a@x.com", "city": "Lyon", "given_name": "Jo"},
                   {"id": "a4", "email": "d@x.com", "family_name": "Lee", "city": "\t"})
    r = reconcile(d, s, fields)
    for name in TEXTS:
        assert _text(name, r.batch(name)) == _expected(name, r.batch(name)), name
        assert len(_text(name, r.batch(name))) == r.summary["batches"][name]


@pytest.mark.parametrize(("store", "account"), [("default", "a1"), ("eu", "x:y"),
                                                ("a:b", "c"), ("a", "b:c"), ("ü", "😀")])
def test_created_contact_ids_are_uuid5_of_store_and_account(store: str, account: str) -> None:
    import uuid

    from recon.engine.batches import CREATED_CONTACT_NAMESPACE
    expected = uuid.uuid5(CREATED_CONTACT_NAMESPACE, f"{len(store)}:{store}:{account}")
    assert created_contact_id(store, account) == str(expected)
    assert created_contact_id("a:b", "c") != created_contact_id("a", "b:c")


def test_a_created_contacts_id_is_written_back_as_its_accounts_link() -> None:
    r = reconcile(dynamics(), strivacity({"id": "a1", "email": "a@x.com", "family_name": "L",
                                          "store": "eu"},
                                         {"id": "a2", "email": "b@x.com", "family_name": "M"}))
    ids = {line["contactid"] for line in r.batch_lines("create_in_dynamics")}
    assert ids == {created_contact_id("eu", "a1"), created_contact_id("default", "a2")}
    assert list(r.batch_lines("update_strivacity")) == [
        {"operation": "updatePersonalData", "identityStore": store, "accountId": account,
         "value": {"crm": {"dynamicsContactId": created_contact_id(store, account)}}}
        for store, account in (("eu", "a1"), ("default", "a2"))]
