"""Engine invariants under generated data (DESIGN §11): partition, order independence,
symmetry of pairing, and no duplicate ever batched."""

from __future__ import annotations

import pandas as pd
from canonical import dynamics, strivacity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.engine import Reconciliation, reconcile
from recon.runfolder import BUCKETS

# Few values, so that keys, links and secondary emails collide often.
EMAILS = st.sampled_from([None, "bad", "a@x.com", "A@x.com", "b@x.com", "c@x.com", "d@x.com"])
NAMES = st.sampled_from([None, "Roe", "Lee"])
TIMES = st.sampled_from([None, "2024-01-01", "2024-06-01"])


@st.composite
def _sides(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_d, n_s = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    contacts = [{"id": f"c{i}", "email": draw(EMAILS), "email2": draw(EMAILS),
                 "family_name": draw(NAMES), "active": draw(st.booleans()),
                 "updated": draw(TIMES)} for i in range(n_d)]
    links = st.sampled_from([None, None, "c0", "c1", "c2", "gone"])
    accounts = [{"id": f"a{i}", "email": draw(EMAILS), "link": draw(links),
                 "family_name": draw(NAMES), "enabled": draw(st.booleans()),
                 "updated": draw(TIMES)} for i in range(n_s)]
    return dynamics(*contacts), strivacity(*accounts)


PROPERTY = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)


def _comparable(r: Reconciliation) -> dict:
    buckets = r.buckets.astype(str).sort_values(["side", "record_id"], ignore_index=True)
    out = {name: getattr(r, name) for name in ("matches", "duplicates", "drift", "review")}
    out |= {f"batch:{name}": r.batch(name) for name in r.summary["batches"]}
    return {"summary": r.summary, "buckets": buckets, **out}


def _assert_same(a: Reconciliation, b: Reconciliation) -> None:
    left, right = _comparable(a), _comparable(b)
    assert left["summary"] == right["summary"]
    for name in left:
        if name != "summary":
            pd.testing.assert_frame_equal(left[name], right[name], obj=name)


@PROPERTY
@given(_sides())
def test_each_side_is_partitioned_into_matched_only_review(sides) -> None:
    d, s = sides
    r = reconcile(d, s)
    for side, frame in (("dynamics", d), ("strivacity", s)):
        rows = r.buckets[r.buckets["side"] == side]
        assert sorted(rows["record_id"]) == sorted(frame["record_id"])
        assert set(rows["bucket"].astype(str)) <= set(BUCKETS)
        assert rows["reason"].notna().tolist() == (rows["bucket"] == "review").tolist()
        x = r.summary[side]
        assert x["records"] == x["matched"] + x["only"] + x["review"] == len(frame)
        assert x["matched"] == r.summary["pairs"]["total"]
    assert r.matches["contactid"].is_unique and r.matches["strivacity_id"].is_unique


@PROPERTY
@given(_sides(), st.integers(0, 2**16))
def test_result_is_independent_of_row_order(sides, seed: int) -> None:
    d, s = sides
    _assert_same(reconcile(d, s), reconcile(_shuffled(d, seed), _shuffled(s, seed + 1)))


@PROPERTY
@given(_sides())
def test_email_pairing_is_symmetric(sides) -> None:
    """Without links the two sides play the same part: swapping them swaps the pairs."""
    d, s = sides
    s = s.assign(link=pd.Series([None] * len(s), dtype=s["link"].dtype))
    forward = reconcile(d, s).matches
    as_dynamics = dynamics(*({"id": rid, "email": e} for rid, e in zip(s["record_id"], s["email"],
                                                                        strict=True)))
    as_strivacity = strivacity(*({"id": rid, "email": e} for rid, e in zip(
        d["record_id"], d["email"], strict=True)))
    backward = reconcile(as_dynamics, as_strivacity).matches
    assert set(zip(forward["contactid"], forward["strivacity_id"], strict=True)) == set(
        zip(backward["strivacity_id"], backward["contactid"], strict=True))


@PROPERTY
@given(_sides())
def test_no_duplicate_or_review_record_is_ever_batched(sides) -> None:
    d, s = sides
    r = reconcile(d, s)
    dup = r.duplicates
    held = r.review
    for side, ids in (("dynamics", set(r.batch("migrate_to_strivacity")["crm.dynamicsContactId"])
                       | set(r.batch("update_dynamics")["contactid"])),
                      ("strivacity", set(r.batch("create_in_dynamics")["strivacity_id"])
                       | set(r.batch("update_strivacity")["accountId"]))):
        assert not ids & set(dup.loc[dup["side"] == side, "record_id"])
        assert not ids & set(held.loc[held["side"] == side, "record_id"])
