"""The result value: summary counting rules (DESIGN §7), purity, and its short rendering."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from canonical import dynamics, strivacity

from recon.engine import Reconciliation, reconcile
from recon.runfolder import SUMMARY_KEYS


def _sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    d = dynamics({"id": "c1", "email": "a@x.com", "given_name": "A", "city": "P"},
                 {"id": "c2", "email": "b@x.com", "given_name": "B"},
                 {"id": "c3", "email": "old@x.com"},
                 {"id": "c4", "email": "dup@x.com"}, {"id": "c5", "email": "dup@x.com"},
                 {"id": "c6", "email": "bad"}, {"id": "c7"},
                 {"id": "c8", "email": "only@x.com", "active": False})
    s = strivacity({"id": "a1", "email": "a@x.com", "given_name": "A2", "city": "Q"},
                   {"id": "a2", "email": "b@x.com", "given_name": "B"},
                   {"id": "a3", "email": "new@x.com", "link": "c3"},
                   {"id": "a4", "email": "s@x.com", "family_name": "S"},
                   {"id": "a5", "email": "x@x.com", "link": "nobody"})
    return d, s


def test_summary_counts_follow_the_rules() -> None:
    r = reconcile(*_sample())
    s = r.summary
    assert tuple(s) == SUMMARY_KEYS
    d = s["dynamics"]
    assert (d["records"], d["matched"], d["only"], d["review"]) == (8, 3, 1, 4)
    assert d["duplicate_groups"] == 1 and d["invalid_email"] == 2
    assert {k: v for k, v in d["review_reasons"].items() if v} == {
        "duplicate_email": 2, "invalid_email": 1, "missing_email": 1}
    st = s["strivacity"]
    assert (st["records"], st["matched"], st["only"], st["review"]) == (5, 3, 1, 1)
    assert st["review_reasons"]["dangling_link"] == 1
    assert s["pairs"] == {"total": 3, "by_link": 1, "by_email": 2}
    # c1/a1 differ on given_name and city, c3/a3 on email: two pairs, one row per field
    assert s["drift"]["pairs"] == 2
    assert {k: v for k, v in s["drift"]["fields"].items() if v} == {
        "email": 1, "given_name": 1, "city": 1}
    # update_strivacity: two email pairs' links, and the link to the contact created for a4
    assert s["batches"] == {"migrate_to_strivacity": 0, "create_in_dynamics": 1,
                            "update_dynamics": 2, "update_strivacity": 3}


def test_every_side_adds_up() -> None:
    r = reconcile(*_sample())
    for side in ("dynamics", "strivacity"):
        x = r.summary[side]
        assert x["records"] == x["matched"] + x["only"] + x["review"]
        assert x["review"] == sum(x["review_reasons"].values())


def test_inputs_are_not_modified() -> None:
    d, s = _sample()
    d_copy, s_copy = d.copy(deep=True), s.copy(deep=True)
    reconcile(d, s)
    pd.testing.assert_frame_equal(d, d_copy)
    pd.testing.assert_frame_equal(s, s_copy)


def test_buckets_follow_input_order_one_row_per_record() -> None:
    d, s = _sample()
    b = reconcile(d, s).buckets
    assert b.columns.tolist() == ["side", "record_id", "bucket", "reason"]
    assert b["record_id"].tolist() == d["record_id"].tolist() + s["record_id"].tolist()


def test_result_is_frozen_and_renders_a_short_summary() -> None:
    r = reconcile(*_sample())
    assert isinstance(r, Reconciliation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.summary = {}  # type: ignore[misc]
    text = repr(r)
    assert "dynamics: 8 records, 3 matched" in text and "pairs: 3 (1 by link, 2 by email)" in text
    assert r._repr_html_().startswith("<b>Reconciliation</b><ul><li>dynamics: 8 records")


def test_plain_string_columns_and_any_index_give_the_same_result() -> None:
    d, s = _sample()
    base = reconcile(d, s)
    for kind in ("str", object):
        d2, s2 = d.copy(), s.copy()
        for frame in (d2, s2):
            for column in frame.columns:
                if frame[column].dtype == "string[pyarrow]":
                    frame[column] = frame[column].astype(kind)
        d2.index, s2.index = range(100, 100 + len(d2))[::-1], [7, 3, 9, 1, 5]
        other = reconcile(d2, s2)
        assert other.summary == base.summary
        for name in ("matches", "duplicates", "drift", "review"):
            pd.testing.assert_frame_equal(getattr(other, name), getattr(base, name), obj=name)
        for name in base.summary["batches"]:
            assert list(other.batch_lines(name)) == list(base.batch_lines(name))
