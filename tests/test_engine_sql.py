"""The SQL engine on DuckDB (``recon.engine.sql``) gives today's engine's result, frame by frame
and run folder byte by byte: on the committed sample, generated tenants, random tenants, and
under a memory limit low enough to make DuckDB spill."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from canonical import dynamics, first_sync, strivacity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recon
from recon.engine import Reconciliation
from recon.engine import reconcile as numpy_reconcile
from recon.engine.sql import reconcile as sql_reconcile
from recon.engine.sql.drift import DRIFT_TABLE
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.pipeline import Pipeline
from recon.engine.sql.run import first_part, run_plan, second_part
from recon.errors import ConfigError, ReconError
from recon.fields import DEFAULT_FIELDS, DYNAMICS_CREATE_REQUIRED, MAPPED, WINNERS, FieldMap
from recon.sample import generate

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
FRAMES = ("matches", "duplicates", "drift", "review", "buckets", "problems")


def assert_same(expected: Reconciliation, got: Reconciliation) -> None:
    """Every frame equal (values, dtypes, order, index) and the summary equal."""
    assert got.summary == expected.summary
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), obj=name)
    for name in expected.summary["batches"]:
        pd.testing.assert_frame_equal(got.batch(name), expected.batch(name), obj=name)


def assert_same_folder(expected: Path, got: Path) -> None:
    """The same files, byte for byte."""
    def files(root: Path) -> list[Path]:
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files(got) == files(expected)
    for name in files(expected):
        assert (got / name).read_bytes() == (expected / name).read_bytes(), name


def _both(d: pd.DataFrame, s: pd.DataFrame, fields: FieldMap | None = None,
          **options: str) -> tuple[Reconciliation, Reconciliation]:
    return numpy_reconcile(d, s, fields), sql_reconcile(d, s, fields, **options)


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (recon.read_dynamics(SAMPLE / "dynamics_contacts.csv"),
            recon.read_strivacity(SAMPLE / "strivacity_accounts.ndjson"))


def test_the_sample_gives_todays_result_and_run_folder(sample, tmp_path: Path) -> None:
    expected, got = _both(*sample)
    assert got.summary["pairs"]["total"] > 1000 and got.summary["drift"]["pairs"] > 0
    assert_same(expected, got)
    assert_same_folder(expected.write(tmp_path / "numpy"), got.write(tmp_path / "duckdb"))


def _mapped(change: dict[str, dict[str, str]], phone_region: str | None = None) -> FieldMap:
    return FieldMap(tuple(replace(f, **change.get(f.name, {})) for f in DEFAULT_FIELDS.fields),
                    phone_region=phone_region)


OTHER_MAPS = {
    "street read as a phone, GB numbers": _mapped(
        {"street": {"comparer": "phone"}, "city": {"winner": "newest"},
         "region": {"winner": "report"}}, phone_region="GB"),
    "Dynamics wins, a quote in the link attribute": FieldMap(
        tuple(replace(f, winner="dynamics") for f in DEFAULT_FIELDS.fields),
        link_attribute="crm.contact'Id"),
    "four fields": FieldMap(tuple(f for f in DEFAULT_FIELDS.fields
                                  if f.name in ("email", "phone", "family_name", "active"))),
}


@pytest.mark.parametrize("name", OTHER_MAPS)
def test_other_field_maps_give_todays_result(sample, name: str) -> None:
    assert_same(*_both(*sample, OTHER_MAPS[name]))

def test_the_engine_switch_runs_the_sql_engine(sample) -> None:
    assert_same(numpy_reconcile(*sample), numpy_reconcile(*sample, engine="duckdb"))
    with pytest.raises(ConfigError, match="valid: numpy, duckdb, spark"):
        numpy_reconcile(*sample, engine="polars")


def test_the_inputs_are_not_modified(sample) -> None:
    before = [frame.copy() for frame in sample]
    sql_reconcile(*sample)
    for frame, copy in zip(sample, before, strict=True):
        pd.testing.assert_frame_equal(frame, copy)


@pytest.mark.parametrize(("contacts", "seed", "overlap", "drift", "duplicates"), [
    (3000, 7, 0.9, 0.2, 0.02),
    (2500, 11, 0.5, 0.05, 0.05),
])
def test_generated_tenants_give_todays_result_and_run_folder(
        tmp_path: Path, contacts: int, seed: int, overlap: float, drift: float,
        duplicates: float) -> None:
    data = generate(tmp_path / "data", contacts=contacts, accounts=contacts + 100, seed=seed,
                    overlap=overlap, drift=drift, duplicates=duplicates)
    d = recon.read_dynamics(data / "dynamics_contacts.csv")
    s = recon.read_strivacity(data / "strivacity_accounts.ndjson")
    expected, got = _both(d, s)
    assert got.summary["drift"]["pairs"] > 0 and got.summary["dynamics"]["duplicate_groups"] > 0
    assert_same(expected, got)
    assert_same_folder(expected.write(tmp_path / "numpy"), got.write(tmp_path / "duckdb"))


@pytest.mark.slow
def test_a_low_memory_limit_spills_and_gives_the_same_result(tmp_path: Path) -> None:
    data = generate(tmp_path / "data", contacts=50_000, seed=5, overlap=0.9, drift=0.05,
                    duplicates=0.01)
    d = recon.read_dynamics(data / "dynamics_contacts.csv")
    s = recon.read_strivacity(data / "strivacity_accounts.ndjson")
    expected = numpy_reconcile(d, s)
    spill = tmp_path / "spill"
    spill.mkdir()
    with DuckDB("64MB", spill) as db:
        folder = db.spill_folder
        assert folder.parent == spill and (folder.stat().st_mode & 0o777) == 0o700
        got = run_plan(db, d, s, DEFAULT_FIELDS)
        assert db.spilled_bytes() > 0  # the limit was low enough to matter
    assert not folder.exists()  # spilled personal data does not outlive the run
    assert_same(expected, got)
    assert_same(expected, sql_reconcile(d, s, memory_limit="64MB", temp_dir=spill))


def test_a_first_sync_gives_todays_result_and_run_folder(sample, tmp_path: Path) -> None:
    d, s = sample[0], first_sync(sample[1])
    expected, got = _both(d, s)
    pairs = got.summary["pairs"]["total"]
    assert got.summary["drift"]["pairs"] > 0.9 * pairs
    assert min(got.summary["drift"]["fields"][f] for f in MAPPED) > 0.9 * pairs
    assert_same(expected, got)
    assert_same_folder(expected.write(tmp_path / "numpy"), got.write(tmp_path / "duckdb"))


def test_a_first_sync_keeps_only_narrow_tables(sample) -> None:
    """A first sync has a drift row per pair and field: the plan must not keep a table of them
    beyond ``drift`` itself, and ``drift`` holds integers and the values only (ids, field names
    and targets are joined from ``matches`` and ``field_map`` when written)."""
    d, s = sample[0], first_sync(sample[1])
    required = [f.name for f in DEFAULT_FIELDS.fields if f.dynamics in DYNAMICS_CREATE_REQUIRED]
    kept = [step.name for step in [*first_part(DEFAULT_FIELDS, required),
                                   *second_part(DEFAULT_FIELDS, required)] if step.materialise]
    with DuckDB() as db:
        run_plan(db, d, s, DEFAULT_FIELDS)
        pairs = int(db.arrow("SELECT COUNT(*) FROM matches").column(0)[0].as_py())
        rows = {name: int(db.arrow(f"SELECT COUNT(*) FROM {name}").column(0)[0].as_py())
                for name in kept}
        schema = db.arrow("SELECT * FROM drift WHERE FALSE").schema
    assert rows["drift"] > 5 * pairs  # the tenant is a first sync
    # Per record or per pair is fine; longer is one row per pair and field (or value).
    longer = {name for name, n in rows.items() if n > len(d) + len(s)}
    assert longer <= {"drift", "needed_values"} and "drift" in longer
    assert tuple(schema.names) == DRIFT_TABLE
    assert [n for n in schema.names if pa.types.is_string(schema.field(n).type)] == [
        "d_value", "s_value", "new_value"]


def test_a_memory_limit_too_low_is_a_clear_error(sample) -> None:
    with pytest.raises(ReconError, match="Raise --memory-limit") as caught:
        sql_reconcile(*sample, memory_limit="1MB")
    assert "in step" in str(caught.value)
    with pytest.raises(ConfigError, match="e.g. 4GB"):
        sql_reconcile(*sample, memory_limit="lots")


def test_steps_have_unique_names_and_are_plain_selects() -> None:
    """Each step is one portable SELECT: nothing DuckDB-only, so Spark can run the plan."""
    required = ["family_name"]
    steps = [*first_part(DEFAULT_FIELDS, required), *second_part(DEFAULT_FIELDS, required)]
    names = [step.name for step in steps]
    assert len(names) == len(set(names))
    duckdb_only = ("::", " QUALIFY ", " EXCLUDE", " ILIKE ", "STRUCT_PACK", "LIST_", " ANTI JOIN",
                   " SEMI JOIN", " POSITIONAL ", "ASOF ", "COLUMNS(", " FILTER (")
    for step in steps:
        text = " ".join(step.sql.split()).upper()
        assert text.startswith("SELECT "), step.name
        assert not [word for word in duckdb_only if word in text], step.name
    with pytest.raises(ValueError, match="already has a step"):
        plan = Pipeline()
        plan.enqueue_sql("SELECT 1 AS x", "one")
        plan.enqueue_sql("SELECT 2 AS x", "one")


# One tiny tenant per rule and reason, so that each is met on every run (random tenants may
# miss one).
A, B = "a@x.com", "b@x.com"
SCENARIOS = {
    "link pair with email drift": ([{"id": "c1", "email": A}],
                                   [{"id": "a1", "email": B, "link": "c1"}]),
    "dangling link": ([{"id": "c1", "email": A}], [{"id": "a1", "email": A, "link": "gone"}]),
    "shared link": ([{"id": "c1", "email": A}], [{"id": "a1", "email": A, "link": "c1"},
                                                 {"id": "a2", "email": B, "link": "c1"}]),
    "missing and invalid email": ([{"id": "c1"}, {"id": "c2", "email": "bad"}],
                                  [{"id": "a1", "email": " "}, {"id": "a2", "email": "x@"}]),
    "duplicates on the other side": ([{"id": "c1", "email": A}],
                                     [{"id": "a1", "email": A}, {"id": "a2", "email": A}]),
    "duplicates on this side": ([{"id": "c1", "email": A, "active": False},
                                 {"id": "c2", "email": A, "updated": "2024-06-01"},
                                 {"id": "c3", "email": A}], [{"id": "a1", "email": A}]),
    "email in use by a linked pair": ([{"id": "c1", "email": A}, {"id": "c2", "email": B}],
                                      [{"id": "a1", "email": B, "link": "c1"}]),
    "secondary email match": ([{"id": "c1", "email": A, "email3": B}],
                              [{"id": "a1", "email": B}]),
    "missing required field": ([], [{"id": "a1", "email": A, "family_name": "  "},
                                    {"id": "a2", "email": B, "family_name": "Roe"}]),
    "drift reasons": ([{"id": f"c{i}", "email": f"p{i}@x.com", "family_name": "Roe",
                        "phone": "+14155550100", "updated": "2024-06-01"} for i in range(4)],
                      [{"id": "a0", "email": "p0@x.com", "family_name": " ", "link": "c0"},
                       {"id": "a1", "email": "p1@x.com", "phone": "call me"},
                       {"id": "a2", "email": "p2@x.com", "phone": "+1 (415) 555-0100",
                        "family_name": "Lee"},
                       {"id": "a3", "email": "bad", "link": "c3"}]),
    "equal times: no newer side": ([{"id": "c1", "email": A, "phone": "+14155550100"}],
                                   [{"id": "a1", "email": A, "phone": "+14155550199"}]),
    "a blank on each side": ([{"id": "c1", "email": A, "family_name": "Roe"}],
                             [{"id": "a1", "email": A, "given_name": "Ann",
                               "family_name": " ", "link": "c1"}]),
    "address held by another contact": ([{"id": "c1", "email": A},
                                         {"id": "c2", "email": "z@x.com", "email2": B}],
                                        [{"id": "a1", "email": B, "link": "c1"}]),
    "address held only by the contact itself": ([{"id": "c1", "email": A, "email2": B}],
                                                [{"id": "a1", "email": B, "link": "c1"}]),
    "a contactid and an account id two records share": (
        [{"id": "c1", "email": A, "family_name": "Roe", "city": "Rome"},
         {"id": "c1", "email": B, "family_name": "Lee", "city": "Oslo"},
         {"id": "c2", "email": "c@x.com", "family_name": "Kim"}],
        [{"id": "a1", "email": A, "family_name": "Doe", "city": "Bern"},
         {"id": "a1", "email": B, "family_name": "Poe"},
         {"id": "a2", "email": "c@x.com", "family_name": "Kim II"}]),
    "unreadable phone of an account to create": ([], [{"id": "a1", "email": A,
                                                        "family_name": "Roe",
                                                        "phone": "call me"}]),
}
#: A field map where Dynamics wins every field and the newer side wins the phone.
DYNAMICS_WINS = FieldMap(tuple(
    replace(f, winner="newest" if f.name == "phone" else "dynamics")
    if f.winner != "report" else f for f in DEFAULT_FIELDS.fields))


@pytest.mark.parametrize("fields", [DEFAULT_FIELDS, DYNAMICS_WINS], ids=["default", "dynamics"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_each_rule_gives_todays_result(name: str, fields: FieldMap) -> None:
    contacts, accounts = SCENARIOS[name]
    expected, got = _both(dynamics(*contacts), strivacity(*accounts), fields)
    assert_same(expected, got)


# Random tenants: few values, so keys, links, secondary emails and phones collide often.
EMAILS = st.sampled_from([None, "", "bad", "a@x.com", "A@x.com", " a@x.com", "mailto:b@x.com",
                          "b@x.com", "c@x.com", "d@x.com", "Ä@straße.de"])
NAMES = st.sampled_from([None, "", "  ", "Roe", "Roe ", "Lee", "Ann  Lee", "-Smith", "Zoë"])
PHONES = st.sampled_from([None, "", "+14155550100", "+1 (415) 555-0100", "(415) 555-0100",
                          "+4402079460958", "+44 20 7946 0958", "12", "call me"])
TIMES = st.sampled_from([None, "2024-01-01", "2024-06-01"])
FLAGS = st.sampled_from([True, True, False, None])


def _person(draw: st.DrawFn) -> dict:
    return {"email": draw(EMAILS), "given_name": draw(NAMES), "family_name": draw(NAMES),
            "phone": draw(PHONES), "city": draw(NAMES), "updated": draw(TIMES)}


@st.composite
def tenants(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, FieldMap]:
    n_d, n_s = draw(st.integers(0, 7)), draw(st.integers(0, 7))
    contacts = [{"id": f"c{i}", **_person(draw), "email2": draw(EMAILS),
                 "email3": draw(EMAILS), "active": draw(FLAGS), "etag": f'W/"{i}"'}
                for i in range(n_d)]
    links = st.sampled_from([None, None, "c0", "c1", "c2", "gone"])
    accounts = [{"id": f"a{i}", **_person(draw), "link": draw(links), "enabled": draw(FLAGS),
                 "store": draw(st.sampled_from(["default", "eu"]))} for i in range(n_s)]
    winners = {name: draw(st.sampled_from(WINNERS))
               for name in ("email", "given_name", "family_name", "phone", "city", "active")}
    fields = FieldMap(tuple(f if f.name not in winners else
                            type(f)(f.name, f.dynamics, f.strivacity, f.comparer, winners[f.name])
                            for f in DEFAULT_FIELDS.fields),
                      phone_region=draw(st.sampled_from([None, "US"])))
    return dynamics(*contacts), strivacity(*accounts), fields


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenants())
def test_random_tenants_give_todays_result(tenant) -> None:
    d, s, fields = tenant
    assert_same(*_both(d, s, fields))


def test_threads_setting_is_accepted(sample) -> None:
    assert_same(numpy_reconcile(*sample), sql_reconcile(*sample, threads=1))
    assert os.cpu_count()


@pytest.mark.parametrize("rows", [5, 1000])
def test_python_steps_in_small_batches_give_the_same_result(sample, rows: int) -> None:
    with DuckDB() as db:
        db.map_rows = rows  # forms and created_ids handed to Python this many rows at a time
        got = run_plan(db, *sample, DEFAULT_FIELDS)
        batches = int(db.arrow("SELECT COUNT(*) FROM needed_values").column(0)[0].as_py())
    assert batches > rows  # more than one batch went through
    assert_same(numpy_reconcile(*sample), got)
