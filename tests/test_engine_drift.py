"""Drift: comparers, winners, and the rule that a blank never overwrites a filled value."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from canonical import dynamics, strivacity

from recon.engine import reconcile
from recon.fields import DEFAULT_FIELDS, FieldMap


def _with_winner(field: str, winner: str) -> FieldMap:
    return FieldMap(tuple(replace(f, winner=winner) if f.name == field else f
                          for f in DEFAULT_FIELDS.fields))


def _drift(d: dict, s: dict, fields: FieldMap | None = None) -> pd.DataFrame:
    base_d = {"id": "c1", "email": "a@x.com", "family_name": "Roe"}
    base_s = {"id": "a1", "email": "a@x.com", "family_name": "Roe"}
    r = reconcile(dynamics({**base_d, **d}), strivacity({**base_s, **s}), fields)
    assert len(r.matches) == 1
    return r.drift


def test_drift_columns_and_values() -> None:
    drift = _drift({"given_name": "Jo"}, {"given_name": "Joe"})
    assert drift.columns.tolist() == ["contactid", "strivacity_id", "email_key", "field",
                                      "dynamics_value", "strivacity_value", "action", "reason"]
    assert drift.fillna("").values.tolist() == [["c1", "a1", "a@x.com", "given_name", "Jo",
                                                 "Joe", "update_dynamics", ""]]


def test_text_compares_after_normalisation_but_keeps_case() -> None:
    assert _drift({"city": "New  York"}, {"city": " New York "}).empty
    assert _drift({"city": "Cafe\u0301"}, {"city": "Caf\u00e9"}).empty  # NFD vs NFC
    assert _drift({"city": "new york"}, {"city": "New York"})["field"].tolist() == ["city"]


def test_unnormalised_text_in_a_frame_is_still_compared_normalised() -> None:
    d = dynamics({"id": "c1", "email": "a@x.com", "family_name": "Roe"})
    s = strivacity({"id": "a1", "email": "a@x.com", "family_name": "Roe"})
    s["family_name"] = pd.Series(["Roe  "], dtype=s["family_name"].dtype)
    assert reconcile(d, s).drift.empty


def test_phone_compares_e164() -> None:
    assert _drift({"phone": "+1 (202) 555-0100"}, {"phone": "+12025550100"}).empty
    assert _drift({"phone": "+12025550100"}, {"phone": "+12025550199"})["field"].tolist() == [
        "phone"]


def test_email_compares_by_key() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "A@X.com"}),
                  strivacity({"id": "a1", "email": "a@x.com", "link": "c1"}))
    assert r.drift.empty


def test_active_is_reported_never_batched() -> None:
    drift = _drift({"active": True}, {"enabled": False})
    assert drift[["field", "dynamics_value", "strivacity_value", "action"]].values.tolist() == [
        ["active", "true", "false", "report"]]


def test_blank_on_the_winning_side_never_overwrites() -> None:
    drift = _drift({"city": "Paris"}, {})
    assert drift[["field", "action"]].values.tolist() == [["city", "report"]]
    drift = _drift({}, {"city": "Paris"})
    assert drift[["field", "action"]].values.tolist() == [["city", "update_dynamics"]]


def test_dynamics_winner_updates_strivacity_unless_dynamics_is_blank() -> None:
    fields = _with_winner("city", "dynamics")
    assert _drift({"city": "Paris"}, {"city": "Lyon"}, fields)["action"].tolist() == [
        "update_strivacity"]
    assert _drift({}, {"city": "Lyon"}, fields)["action"].tolist() == ["report"]


def test_dynamics_winner_on_an_identifier_only_field_is_reported() -> None:
    fields = _with_winner("phone", "dynamics")  # identities.phone.id is not an attribute
    drift = _drift({"phone": "+12025550100"}, {"phone": "+12025550199"}, fields)
    assert drift["action"].tolist() == ["report"]


@pytest.mark.parametrize(("d_time", "s_time", "action"), [
    ("2024-05-01", "2024-01-01", "update_strivacity"),
    ("2024-01-01", "2024-05-01", "update_dynamics"),
    ("2024-01-01", "2024-01-01", "report"),
    (None, "2024-05-01", "report"),
])
def test_newest_winner(d_time: str | None, s_time: str, action: str) -> None:
    fields = _with_winner("city", "newest")
    drift = _drift({"city": "Paris", "updated": d_time}, {"city": "Lyon", "updated": s_time},
                   fields)
    assert drift["action"].tolist() == [action]


def test_report_winner_is_never_batched() -> None:
    fields = _with_winner("city", "report")
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com", "city": "Paris"}),
                  strivacity({"id": "a1", "email": "a@x.com", "city": "Lyon"}), fields)
    assert r.drift["action"].tolist() == ["report"]
    assert r.summary["batches"]["update_dynamics"] == 0


def test_drift_sorted_by_contact_then_field_map_order() -> None:
    r = reconcile(dynamics({"id": "c2", "email": "b@x.com", "city": "P", "given_name": "A"},
                           {"id": "c1", "email": "a@x.com", "country": "FR"}),
                  strivacity({"id": "a2", "email": "b@x.com", "city": "Q", "given_name": "B"},
                             {"id": "a1", "email": "a@x.com", "country": "DE"}))
    assert r.drift[["contactid", "field"]].values.tolist() == [
        ["c1", "country"], ["c2", "given_name"], ["c2", "city"]]
