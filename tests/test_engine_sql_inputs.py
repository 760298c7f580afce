"""load_exports: DuckDB reads the exports into the plan's input tables, exactly as the loaders.

Every table is compared with ``input_table(read_side(...))`` (``input_paths.same_outcome``): the
same columns, types, values and order, or the same ``InputError``. Files DuckDB's path must read
itself are checked to be read by it (``how == "duckdb"``), so a check that sends everything to the
loader cannot pass unnoticed; doubtful files are checked to go to the loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from input_paths import by_loader, same_outcome

from recon import normalize
from recon.engine.sql import input_sql
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.inputs import load_exports
from recon.errors import ReconError
from recon.fields import DEFAULT_FIELDS, load_fields
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
GUID = "49b0be2e-d01c-ed11-b83e-000d3a572421"


def macro_db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for statement in input_sql.macros():
        con.execute(statement)
    return con


# --- the SQL pieces equal the loaders' own ---------------------------------------------------

def test_whitespace_is_the_set_pyarrow_trims() -> None:
    points = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    values = pa.array([chr(c) for c in points])
    space = pc.utf8_is_space(values).to_numpy(zero_copy_only=False)
    assert tuple(c for c, s in zip(points, space, strict=True) if s) == input_sql.WHITESPACE
    edges = [chr(c) + "a" + chr(c) for c in input_sql.WHITESPACE] + ["\u200ba\u200b", " a b "]
    con = macro_db()
    got = [con.execute("SELECT recon_trim(?)", [v]).fetchall()[0][0] for v in edges]
    assert got == pc.utf8_trim_whitespace(pa.array(edges)).to_pylist()


ADDRESS = st.text(alphabet=st.sampled_from("aZ0._-+@'`.!#xn-- \u00e9\u0130KSs"), max_size=24)


@settings(max_examples=400, deadline=None)
@given(st.one_of(ADDRESS, ADDRESS.map(lambda t: t + "@example.com"),
                 st.builds(lambda a, b: f"{a}@{b}.{'com' if len(b) % 2 else 'test'}",
                           ADDRESS, ADDRESS)))
def test_the_sql_fast_email_path_gives_normalize_s_key(address: str) -> None:
    fast, lowered = macro_db().execute("SELECT recon_fast_email(?), lower(?)",
                                       [address, address]).fetchall()[0]
    if fast:
        key, status = normalize.email_key(pd.Series([address], dtype=normalize.STRING))
        assert (key.iloc[0], status.iloc[0]) == (lowered, "ok")


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=pd.Timestamp("1700-01-01").to_pydatetime(),
                    max_value=pd.Timestamp("2200-12-31").to_pydatetime()),
       st.integers(0, 999_999_999), st.integers(0, 9))
def test_the_sql_time_path_gives_the_loader_s_instant(when: object, nanos: int,
                                                      digits: int) -> None:
    fraction = f".{nanos:09d}"[:digits + 1] if digits else ""
    text = pd.Timestamp(when).strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
    fast, ns = macro_db().execute(
        "SELECT recon_fast_stamp(?), recon_stamp_ns(?)", [text, text]).fetchall()[0]
    assert fast and ns == pd.Timestamp(text).value


@pytest.mark.parametrize("text", ["2024-02-30T10:00:00Z", "2023-02-29T00:00:00Z",
                                  "2024-03-01T24:00:00Z", "2024-03-01T10:60:00Z",
                                  "2024-03-01T10:00:60Z", "2024-03-01 10:00:00Z",
                                  "2024-03-01T10:00:00", "1600-03-01T10:00:00Z",
                                  "2024-03-01T10:00:00.1234567890Z", "２０２４-03-01T10:00:00Z"])
def test_other_time_forms_are_left_to_the_loader(text: str) -> None:
    assert macro_db().execute("SELECT recon_fast_stamp(?)", [text]).fetchall()[0][0] is False


# --- whole files: the committed sample, other formats, generated tenants ----------------------

def test_the_committed_sample_is_read_by_duckdb_and_equals_the_loaders() -> None:
    assert same_outcome("dynamics", SAMPLE / CONTACTS_FILE) == "duckdb"
    assert same_outcome("strivacity", SAMPLE / ACCOUNTS_FILE) == "duckdb"


def _as(path: Path, folder: Path, kind: str, side: str) -> Path:
    """The sample file written again as ``kind`` (values as text, as the export holds them)."""
    if side == "dynamics":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        if kind == "csv":
            frame = pd.json_normalize(records, sep=".").astype(object)
            frame = frame.where(frame.notna(), "").astype(str)
            frame = frame.replace({"True": "true", "False": "false"})
    out = folder / f"{side}.{kind}"
    if kind == "parquet":
        frame.replace("", None).to_parquet(out, index=False)
    elif kind in ("jsonl", "ndjson"):
        rows = ([{k: v or None for k, v in r.items()} for r in frame.to_dict("records")]
                if side == "dynamics" else records)
        out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        frame.to_csv(out, index=False)
    return out


@pytest.mark.parametrize(("side", "kind"), [("dynamics", "parquet"), ("dynamics", "jsonl"),
                                            ("dynamics", "ndjson"), ("strivacity", "csv"),
                                            ("strivacity", "jsonl")])
def test_the_sample_in_every_format_duckdb_reads(tmp_path: Path, side: str, kind: str) -> None:
    source = SAMPLE / (CONTACTS_FILE if side == "dynamics" else ACCOUNTS_FILE)
    assert same_outcome(side, _as(source, tmp_path, kind, side)) == "duckdb"


@pytest.mark.parametrize(("contacts", "seed", "drift", "duplicates"),
                         [(3000, 2, 0.2, 0.05), (1500, 7, 1.0, 0.2)])
def test_generated_tenants(tmp_path: Path, contacts: int, seed: int, drift: float,
                           duplicates: float) -> None:
    data = generate(tmp_path, contacts=contacts, accounts=contacts + 200, seed=seed,
                    drift=drift, duplicates=duplicates)
    assert same_outcome("dynamics", data / CONTACTS_FILE) == "duckdb"
    assert same_outcome("strivacity", data / ACCOUNTS_FILE) == "duckdb"


def test_under_a_memory_limit_that_makes_duckdb_spill(tmp_path: Path) -> None:
    data = generate(tmp_path, contacts=60_000, seed=4, drift=0.1)
    with DuckDB("96MB", tmp_path / "spill", threads=1) as db:
        how = load_exports(db, data / CONTACTS_FILE, data / ACCOUNTS_FILE, DEFAULT_FIELDS)
        tables = {s: db.arrow(f"SELECT * FROM {s} ORDER BY pos") for s in ("d", "s")}
    assert (how.dynamics, how.strivacity) == ("duckdb", "duckdb")
    assert tables["d"].equals(by_loader("dynamics", data / CONTACTS_FILE))
    assert tables["s"].equals(by_loader("strivacity", data / ACCOUNTS_FILE))


def test_too_little_memory_is_a_clear_error(tmp_path: Path) -> None:
    data = generate(tmp_path, contacts=20_000, seed=4)
    with DuckDB("40MB", tmp_path / "spill", threads=2) as db, \
            pytest.raises(ReconError, match="out of memory under memory_limit='40MB'.*Raise"):
        load_exports(db, data / CONTACTS_FILE, data / ACCOUNTS_FILE, DEFAULT_FIELDS)


def test_a_field_map_is_followed(tmp_path: Path) -> None:
    toml = tmp_path / "fields.toml"
    toml.write_text('link_attribute = "crm.contact"\n[fields.email]\ndynamics = "emailaddress2"\n'
                    'strivacity = ["identities.email.id"]\n[fields.given_name]\n'
                    'strivacity = "profile.first"\n', encoding="utf-8")
    fields = load_fields(toml)
    contacts = tmp_path / "c.csv"
    contacts.write_text(f"contactid,emailaddress1,emailaddress2\n{GUID},a@x.com,B@x.com\n",
                        encoding="utf-8")
    accounts = tmp_path / "a.ndjson"
    accounts.write_text(json.dumps({"id": "1", "identities": {"email": {"id": "b@x.com"}},
                                    "accountInfo": {"profile": {"first": "Bo"},
                                                    "crm": {"contact": f"{{{GUID}}}"}}}) + "\n",
                        encoding="utf-8")
    assert same_outcome("dynamics", contacts, fields) == "duckdb"
    assert same_outcome("strivacity", accounts, fields) == "duckdb"
    missing = tmp_path / "m.csv"
    missing.write_text(f"contactid,emailaddress1\n{GUID},a@x.com\n", encoding="utf-8")
    assert same_outcome("dynamics", missing, fields) is None  # the map names a missing column
