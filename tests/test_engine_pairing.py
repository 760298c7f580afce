"""Buckets and pairs: one tiny hand-built case per rule of DESIGN §6."""

from __future__ import annotations

import pandas as pd
import pytest
from canonical import dynamics, strivacity

from recon.engine import reconcile
from recon.errors import InputError


def _bucket(result, side: str, record_id: str) -> tuple[str, str | None]:
    b = result.buckets
    row = b[(b["side"] == side) & (b["record_id"] == record_id)]
    assert len(row) == 1, f"{side} {record_id} should be in exactly one bucket"
    reason = row["reason"].iloc[0]
    return str(row["bucket"].iloc[0]), None if pd.isna(reason) else str(reason)


def _pairs(result) -> set[tuple[str, str, str]]:
    m = result.matches
    return set(zip(m["match_type"], m["contactid"], m["strivacity_id"], strict=True))


def test_email_pair_on_normalised_key() -> None:
    r = reconcile(dynamics({"id": "c1", "email": " Jo@Example.COM "}),
                  strivacity({"id": "a1", "email": "mailto:jo@example.com"}))
    assert _pairs(r) == {("email", "c1", "a1")}
    assert r.matches["email_key"].tolist() == ["jo@example.com"]


def test_link_pairs_whatever_the_emails_say_and_email_difference_is_drift() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "old@x.com"}),
                  strivacity({"id": "a1", "email": "new@x.com", "link": "c1"}))
    assert _pairs(r) == {("link", "c1", "a1")}
    email = r.drift[r.drift["field"] == "email"]
    assert email[["dynamics_value", "strivacity_value", "action"]].values.tolist() == [
        ["old@x.com", "new@x.com", "update_dynamics"]]


def test_link_pairs_even_without_email() -> None:
    r = reconcile(dynamics({"id": "c1"}), strivacity({"id": "a1", "link": "c1"}))
    assert _pairs(r) == {("link", "c1", "a1")}
    assert r.summary["dynamics"]["invalid_email"] == 1


def test_dangling_link_goes_to_review_even_with_a_matching_email() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}),
                  strivacity({"id": "a1", "email": "a@x.com", "link": "gone"}))
    assert _bucket(r, "strivacity", "a1") == ("review", "dangling_link")
    assert _bucket(r, "dynamics", "c1") == ("review", "email_in_use")
    assert r.matches.empty


def test_shared_link_holds_every_account_and_the_contact() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}),
                  strivacity({"id": "a1", "email": "a@x.com", "link": "c1"},
                             {"id": "a2", "email": "b@x.com", "link": "c1"}))
    assert _bucket(r, "strivacity", "a1") == ("review", "shared_link")
    assert _bucket(r, "strivacity", "a2") == ("review", "shared_link")
    assert _bucket(r, "dynamics", "c1") == ("review", "shared_link")


def test_email_in_use_when_the_key_belongs_to_a_linked_record() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "x@x.com"}, {"id": "c2", "email": "a@x.com"}),
                  strivacity({"id": "a1", "email": "a@x.com", "link": "c1"}))
    assert _pairs(r) == {("link", "c1", "a1")}
    assert _bucket(r, "dynamics", "c2") == ("review", "email_in_use")


def test_duplicates_are_held_and_never_paired_by_order() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "A@x.com"}),
                  strivacity({"id": "a1", "email": "a@x.com"}))
    assert r.matches.empty
    assert _bucket(r, "dynamics", "c1") == ("review", "duplicate_email")
    assert _bucket(r, "dynamics", "c2") == ("review", "duplicate_email")
    assert _bucket(r, "strivacity", "a1") == ("review", "duplicate_email")


def test_linked_member_of_a_duplicate_group_stays_paired_the_others_are_held() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}, {"id": "c2", "email": "a@x.com"}),
                  strivacity({"id": "a1", "email": "a@x.com", "link": "c2"}))
    assert _pairs(r) == {("link", "c2", "a1")}
    assert _bucket(r, "dynamics", "c1") == ("review", "duplicate_email")
    assert r.duplicates["record_id"].tolist() == ["c1", "c2"]


def test_duplicate_survivor_active_then_newest_then_id() -> None:
    r = reconcile(dynamics(
        {"id": "c1", "email": "a@x.com", "active": False, "updated": "2025-01-01"},
        {"id": "c2", "email": "a@x.com", "updated": "2024-01-01"},
        {"id": "c3", "email": "a@x.com", "updated": "2024-06-01"},
        {"id": "c5", "email": "b@x.com"}, {"id": "c4", "email": "b@x.com"}),
        strivacity())
    dup = r.duplicates
    assert dup.columns.tolist() == ["side", "email_key", "record_id", "group_size",
                                    "suggested_survivor"]
    by_key = dict(zip(dup["email_key"], dup["suggested_survivor"], strict=False))
    assert by_key == {"a@x.com": "c3", "b@x.com": "c4"}
    assert dup["group_size"].tolist() == [3, 3, 3, 2, 2]
    assert r.summary["dynamics"]["duplicate_groups"] == 2


def test_only_on_each_side() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "a@x.com"}),
                  strivacity({"id": "a1", "email": "b@x.com", "family_name": "B"}))
    assert _bucket(r, "dynamics", "c1") == ("only", None)
    assert _bucket(r, "strivacity", "a1") == ("only", None)


def test_secondary_email_match_holds_both() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "work@x.com", "email3": "Home@X.com"}),
                  strivacity({"id": "a1", "email": "home@x.com", "family_name": "B"}))
    assert _bucket(r, "dynamics", "c1") == ("review", "secondary_email_match")
    assert _bucket(r, "strivacity", "a1") == ("review", "secondary_email_match")
    assert r.summary["batches"]["migrate_to_strivacity"] == 0
    assert r.summary["batches"]["create_in_dynamics"] == 0


def test_secondary_email_naming_two_accounts_holds_both_accounts() -> None:
    r = reconcile(dynamics({"id": "c1", "email": "w@x.com", "email2": "a@x.com",
                            "email3": "b@x.com"}),
                  strivacity({"id": "a1", "email": "a@x.com"}, {"id": "a2", "email": "b@x.com"}))
    assert _bucket(r, "strivacity", "a1") == ("review", "secondary_email_match")
    assert _bucket(r, "strivacity", "a2") == ("review", "secondary_email_match")


@pytest.mark.parametrize(("email", "reason"), [(None, "missing_email"), ("  ", "missing_email"),
                                               ("not an email", "invalid_email")])
def test_missing_and_invalid_email(email: str | None, reason: str) -> None:
    r = reconcile(dynamics({"id": "c1", "email": email}), strivacity({"id": "a1", "email": email}))
    assert _bucket(r, "dynamics", "c1") == ("review", reason)
    assert _bucket(r, "strivacity", "a1") == ("review", reason)
    assert r.summary["dynamics"]["invalid_email"] == 1


def test_missing_lastname_holds_an_enabled_account_but_not_a_disabled_one() -> None:
    r = reconcile(dynamics(), strivacity({"id": "a1", "email": "a@x.com"},
                                         {"id": "a2", "email": "b@x.com", "enabled": False}))
    assert _bucket(r, "strivacity", "a1") == ("review", "missing_required_field")
    assert _bucket(r, "strivacity", "a2") == ("only", None)


def test_review_frame_lists_held_records_sorted() -> None:
    r = reconcile(dynamics({"id": "c2", "email": "bad"}, {"id": "c1"}), strivacity())
    assert r.review.columns.tolist() == ["side", "record_id", "email_key", "reason", "value"]
    assert r.review[["side", "record_id", "reason"]].values.tolist() == [
        ["dynamics", "c1", "missing_email"], ["dynamics", "c2", "invalid_email"]]


def test_empty_frames() -> None:
    r = reconcile(dynamics(), strivacity())
    assert r.summary["pairs"] == {"total": 0, "by_link": 0, "by_email": 0}
    assert r.buckets.empty and r.drift.empty


def test_a_frame_without_canonical_columns_is_refused_with_the_fix() -> None:
    with pytest.raises(InputError, match="lacks canonical columns.*reader"):
        reconcile(dynamics().drop(columns=["email_key"]), strivacity())
