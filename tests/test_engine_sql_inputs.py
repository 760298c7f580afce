"""load_exports: DuckDB reads the exports into the plan's input tables, exactly as the loaders.

Every table is compared with ``input_table(read_side(...))`` (``input_paths.same_outcome``): the
same columns, types, values and order, or the same ``InputError``. Files DuckDB's path must read
itself are checked to be read by it (``how == "duckdb"``), so a check that sends everything to the
loader cannot pass unnoticed; doubtful files are checked to go to the loader.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from input_paths import by_loader, same_outcome

from recon import normalize
from recon.engine.sql import input_sql
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.inputs import load_exports
from recon.errors import InputError, ReconError
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


# --- bad or doubtful input: the loader decides, so its error or frame is the answer ----------

HEADER = "contactid,emailaddress1,firstname,statecode,createdon,modifiedon\n"
ROW = f"{GUID},jo@example.com,Jo,0,2024-03-01T10:00:00Z,2024-03-02T10:00:00Z\n"
OTHER = "70bf4d48-34cb-ed11-b596-0022481d68cd"


def _contacts(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "c.csv"
    path.write_text(header + ROW + "".join(rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(("case", "row", "how"), [
    ("too many fields", f"{OTHER},b@x.com,Al,0,,,extra\n", None),
    ("too few fields", f"{OTHER},b@x.com\n", None),
    ("unterminated quote", f'{OTHER},b@x.com,"Al,0,,\n', None),
    ("text after a closing quote", f'{OTHER},b@x.com,"Al"x,0,,\n', "loader"),
    ("a blank before a quote", f'{OTHER},b@x.com, "Al",0,,\n', "loader"),
    ("a blank after a quote", f'{OTHER},b@x.com,"Al" ,0,,\n', "loader"),
    ("a quoted comma and newline", f'{OTHER},b@x.com,"Al,""Jr""\nII",0,,\n', "duckdb"),
    ("the same id again", f"{GUID.upper()},b@x.com,Al,0,,\n", None),
    ("the same id in braces", f"{{{GUID}}},b@x.com,Al,0,,\n", None),
    ("the same id with spaces", f" {GUID}\u00a0,b@x.com,Al,0,,\n", None),
    ("no id", ",b@x.com,Al,0,,\n", None),
    ("a blank id", " \u3000,b@x.com,Al,0,,\n", None),
    ("a non-ASCII id", f"{OTHER}\u00e9,b@x.com,Al,0,,\n", "loader"),
    ("a bad state", f"{OTHER},b@x.com,Al,2,,\n", None),
    ("a blank state", f"{OTHER},b@x.com,Al, ,,\n", None),
    ("a state in other letters", f"{OTHER},b@x.com,Al,act\u0130ve,,\n", "loader"),
    ("a state with edge spaces", f"{OTHER},b@x.com,Al,\u00a0Active ,,\n", "duckdb"),
    ("a bad time", f"{OTHER},b@x.com,Al,0,yesterday,\n", None),
    ("an impossible date", f"{OTHER},b@x.com,Al,0,,2024-02-30T10:00:00Z\n", None),
    ("a time the loader reads in pandas", f"{OTHER},b@x.com,Al,0,,2024-03-01 10:00+02:00\n",
     "duckdb"),
    ("a blank line", f"\n{OTHER},b@x.com,Al,0,,\n", "duckdb"),
    ("a line of spaces", f"  \n{OTHER},b@x.com,Al,0,,\n", None),
    ("CRLF endings", f"{OTHER},b@x.com,Al,0,,\r\n", "duckdb"),
    ("a NUL byte", f"{OTHER},b@x.com,A\x00l,0,,\n", "duckdb"),
    ("awkward emails", f"{OTHER}, <MAILTO:B@X.COM> ,Al,0,,\n", "duckdb"),
])
def test_csv_rows_of_every_kind(tmp_path: Path, case: str, row: str, how: str | None) -> None:
    assert same_outcome("dynamics", _contacts(tmp_path, row)) == how, case


@pytest.mark.parametrize(("case", "write", "how"), [
    ("not UTF-8", lambda p: p.write_bytes((HEADER + ROW).encode() + b"x,b@x.com,Ren\xe9,0,,\n"),
     None),
    ("a BOM", lambda p: p.write_bytes(b"\xef\xbb\xbf" + (HEADER + ROW).encode()), "duckdb"),
    ("header only", lambda p: p.write_text(HEADER), "loader"),
    ("empty", lambda p: p.write_bytes(b""), None),
    ("a quoted header", lambda p: p.write_text('"contactid",emailaddress1\n1,a@x.com\n'),
     "loader"),
    ("a repeated header", lambda p: p.write_text("contactid,emailaddress1,contactid\n1,a,2\n"),
     None),
    ("a header with spaces", lambda p: p.write_text(" contactid , emailaddress1\n1,a@x.com\n"),
     "duckdb"),
    ("no email column", lambda p: p.write_text("contactid,firstname\n1,Jo\n"), None),
    ("an Excel export saved as CSV", lambda p: p.write_text(
        "(Do Not Modify) Contact,Email,Status\n" f"{GUID},jo@example.com,Active\n"), "loader"),
])
def test_csv_files_of_every_kind(tmp_path: Path, case: str, write: object, how: str | None
                                 ) -> None:
    path = tmp_path / "c.csv"
    write(path)  # type: ignore[operator]
    assert same_outcome("dynamics", path) == how, case


ACCOUNT = {"id": "acc-1", "enabled": True, "createdAt": "2024-07-04T13:32:16.911Z",
           "identities": {"email": {"id": "jo@example.com", "verified": True}},
           "accountInfo": {"name": {"givenName": "Jo"}, "emails": {"primaryEmail": "Jo@x.com"},
                           "crm": {"dynamicsContactId": GUID}}}


def _accounts(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "a.ndjson"
    path.write_text(json.dumps(ACCOUNT) + "\n" + "".join(lines), encoding="utf-8")
    return path


def _put(record: dict, keys: list[str], value: object) -> None:
    """Set ``value`` at the nested ``keys`` of ``record``, making the objects on the way."""
    node = record
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _account(**changes: object) -> str:
    record = json.loads(json.dumps(ACCOUNT))
    record["id"] = "acc-2"
    for path, value in changes.items():
        _put(record, path.split("__"), value)
    return json.dumps(record) + "\n"


@pytest.mark.parametrize(("case", "line", "how"), [
    ("not JSON", '{"id": "x",\n', None),
    ("an array", '["x"]\n', None),
    ("a string", '"x"\n', None),
    ("a trailing comma", '{"id": "acc-2", "enabled": true,}\n', None),
    ("a trailing comma in an array", '{"id": "acc-2", "groups": [1,]}\n', None),
    ("a blank before a closing brace", '{"id": "acc-2", "enabled": true }\n', "loader"),
    ("two records on a line", '{"id": "a"} {"id": "b"}\n', None),
    ("a record over two lines", '{"id":\n"acc-2"}\n', None),
    ("a repeated key", '{"id": "acc-2", "id": "acc-3"}\n', "loader"),
    ("the same id again", _account(id=" acc-1 "), None),
    ("no id", _account(id=None), None),
    ("a number id", _account(id=5), "duckdb"),
    ("a float id", _account(id=5.0), "loader"),
    ("a number name", _account(accountInfo__name__givenName=5), "duckdb"),
    ("a float name", _account(accountInfo__name__givenName=1.5), "loader"),
    ("a huge integer name", _account(accountInfo__name__givenName=10 ** 20), "loader"),
    ("an object name", _account(accountInfo__name__givenName={"x": 1}), "loader"),
    ("a list name", _account(accountInfo__name__givenName=["Jo"]), "loader"),
    ("a name string where an object was", _account(accountInfo__name="Jo"), "loader"),
    ("a date-like name", _account(accountInfo__name__givenName="2021-01-01"), "duckdb"),
    ("a time-like name", _account(accountInfo__name__givenName="2021-01-01T10:00:00Z"),
     "duckdb"),
    ("a time without a fraction", _account(createdAt="2021-01-01T10:00:00Z"), "duckdb"),
    ("a time with an offset", _account(updatedAt="2021-01-01T10:00:00+02:00"), "duckdb"),
    ("a bad enabled", _account(enabled="maybe"), None),
    ("enabled as a word", _account(enabled=" Yes "), "duckdb"),
    ("enabled as a number", _account(enabled=1), "duckdb"),
    ("a bad verified", _account(identities__email__verified="x"), None),
    ("a bad time", _account(createdAt="last tuesday"), None),
    ("a time as a number", _account(createdAt=1700000000), None),
    ("a time in another form", _account(updatedAt="2024-07-04T13:32:16+02:00"), "duckdb"),
    ("a dotted attribute key", _account(accountInfo__emails={}, **{
        "accountInfo__emails.primaryEmail": "dot@x.com"}), None),
    ("a dotted link key", _account(**{"accountInfo__crm.dynamicsContactId": OTHER}), None),
    ("an attribute at the top level", _account(name={"givenName": "Top"}), "duckdb"),
    ("a link with braces", _account(accountInfo__crm__dynamicsContactId=f" {{{OTHER.upper()}}}"),
     "duckdb"),
    ("a non-ASCII link", _account(accountInfo__crm__dynamicsContactId=OTHER + "\u0130"), "loader"),
    ("a whitespace-only email falls through", _account(accountInfo__emails__primaryEmail="\u2003"),
     "duckdb"),
    ("escapes", _account(accountInfo__name__givenName='A\u00e9\\"\n\t\u0000\U0001f600'),
     "duckdb"),
    ("a blank line", "\n   \n" + _account(), "duckdb"),
    ("not UTF-8", '{"id": "acc-2", "x": "caf\udce9"}\n', None),
])
def test_json_lines_of_every_kind(tmp_path: Path, case: str, line: str, how: str | None) -> None:
    path = _accounts(tmp_path, line) if "\udce9" not in line else tmp_path / "a.ndjson"
    if "\udce9" in line:
        path.write_bytes(json.dumps(ACCOUNT).encode() + b"\n" +
                         line.encode("utf-8", "surrogateescape"))
    assert same_outcome("strivacity", path) == how, case


def test_a_link_spelled_as_one_dotted_key_is_read(tmp_path: Path) -> None:
    records = [{**ACCOUNT, "accountInfo": {"crm.dynamicsContactId": f"{{{GUID}}}"}},
               {"id": "acc-2", "accountInfo": {"crm.dynamicsContactId": OTHER},
                "identities": {"email": {"id": "b@x.com"}}}]
    path = tmp_path / "a.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert same_outcome("strivacity", path) == "duckdb"


@pytest.mark.parametrize(("case", "frame", "how"), [
    ("text", pd.DataFrame({"contactid": [GUID], "emailaddress1": ["a@x.com"]}), "duckdb"),
    ("integers and booleans", pd.DataFrame({"contactid": [GUID, OTHER], "emailaddress1": [
        "a@x.com", None], "versionnumber": [5, 7], "statecode": [0, 1]}), "duckdb"),
    ("a boolean state", pd.DataFrame({"contactid": [GUID], "emailaddress1": ["a@x.com"],
                                      "statecode": [True]}), "loader"),
    ("floats", pd.DataFrame({"contactid": [GUID, OTHER], "emailaddress1": ["a@x.com", None],
                             "versionnumber": [5.0, None]}), "loader"),
    ("times", pd.DataFrame({"contactid": [GUID], "emailaddress1": ["a@x.com"],
                            "createdon": [pd.Timestamp("2024-01-01", tz="UTC")]}), "loader"),
    ("an id index", pd.DataFrame({"contactid": [GUID], "emailaddress1": ["a@x.com"]}
                                 ).set_index("contactid"), None),
])
def test_parquet_of_every_kind(tmp_path: Path, case: str, frame: pd.DataFrame,
                               how: str | None) -> None:
    path = tmp_path / "c.parquet"
    frame.to_parquet(path)
    assert same_outcome("dynamics", path) == how, case


@pytest.mark.parametrize("name", ["c.json", "c.xlsx"])
def test_other_formats_are_read_by_the_loader(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    frame = pd.DataFrame({"contactid": [GUID], "emailaddress1": ["a@x.com"]})
    if name.endswith("json"):
        frame.to_json(path, orient="records")
    else:
        frame.to_excel(path, index=False)
    assert same_outcome("dynamics", path) == "loader"


def test_zero_records_is_refused_unless_allowed(tmp_path: Path) -> None:
    contacts = tmp_path / "c.csv"
    contacts.write_text(HEADER, encoding="utf-8")
    with DuckDB() as db, pytest.raises(InputError, match="holds 0 contacts"):
        load_exports(db, contacts, SAMPLE / ACCOUNTS_FILE, DEFAULT_FIELDS)
    with DuckDB() as db:
        how = load_exports(db, contacts, SAMPLE / ACCOUNTS_FILE, DEFAULT_FIELDS,
                           allow_empty=True)
        assert db.arrow("SELECT count(*) AS n FROM d")["n"].to_pylist() == [0]
    assert (how.dynamics, how.strivacity) == ("loader", "duckdb")


def test_formats_override_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "accounts.txt"
    path.write_bytes((SAMPLE / ACCOUNTS_FILE).read_bytes())
    with DuckDB() as db:
        how = load_exports(db, SAMPLE / CONTACTS_FILE, path, DEFAULT_FIELDS,
                           formats={"strivacity": "ndjson"})
    assert (how.dynamics, how.strivacity) == ("duckdb", "duckdb")
    assert same_outcome("strivacity", path, format="ndjson") == "duckdb"


# --- hypothesis: awkward values, written as exports, read the same both ways ----------------

AWKWARD = st.lists(st.sampled_from(
    list("aZ09 ,\"'\n\r\t{}-:.@+<>") + ["\u00a0", "\u200b", "\u3000", "\u00e9", "\u0130",
                                         "\U0001f600", "mailto:", "2024-03-01T10:00:00Z"]),
    max_size=8).map("".join)
CELL = st.one_of(AWKWARD, st.sampled_from(["", " ", "0", "1", "Active", "inactive", "yes",
                                           GUID, f"{{{GUID.upper()}}}", "x@example.com",
                                           "2024-02-29T23:59:59.5Z", "2024-03-01"]))
COLUMNS = ("contactid", "emailaddress1", "emailaddress2", "firstname", "mobilephone",
           "statecode", "createdon", "modifiedon", "versionnumber", "@odata.etag")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(*[CELL] * len(COLUMNS)), min_size=1, max_size=6),
       st.sampled_from(["minimal", "all"]))
def test_awkward_csv_cells_read_the_same(rows: list[tuple[str, ...]], quoting: str) -> None:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL if quoting == "all" else csv.QUOTE_MINIMAL,
                        lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.csv"
        path.write_text(text.getvalue(), encoding="utf-8")
        same_outcome("dynamics", path)


JSON_VALUE = st.one_of(CELL, st.none(), st.booleans(), st.integers(-10, 10 ** 6),
                       st.floats(allow_nan=False, allow_infinity=False))
ACCOUNT_PATHS = ("id", "store", "enabled", "createdAt", "updatedAt",
                 "identities.email.id", "identities.email.verified",
                 "accountInfo.emails.primaryEmail", "accountInfo.name.givenName",
                 "identities.local.metadata.name.familyName", "name.middleName",
                 "accountInfo.crm.dynamicsContactId")


def _nested(values: dict[str, object]) -> dict:
    record: dict = {}
    for path, value in values.items():
        _put(record, path.split("."), value)
    return record


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(ACCOUNT_PATHS), JSON_VALUE), min_size=1,
                max_size=6))
@example(records=[{"id": False, "store": None, "enabled": "", "createdAt": "",
                   "identities.email.id": None, "updatedAt": 1000}])  # found by a fresh run
def test_awkward_json_values_read_the_same(records: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.ndjson"
        path.write_text("".join(json.dumps(_nested(r)) + "\n" for r in records),
                        encoding="utf-8")
        same_outcome("strivacity", path)


# --- the plan runs on the tables as on registered frames ------------------------------------

def _plan_outputs(db: DuckDB) -> list[pa.Table]:
    """The plan's outputs once its inputs are in place: what the job does once d and s exist."""
    from recon.engine.sql import frames
    from recon.engine.sql.run import run_steps
    run_steps(db, DEFAULT_FIELDS)
    return [db.arrow(f"SELECT * FROM ({sql}) ORDER BY ALL") for sql in (
        frames.MATCHES, frames.DRIFT, "SELECT * FROM problems", "SELECT * FROM d_bucket",
        "SELECT * FROM s_bucket", "SELECT * FROM s_creatable")]


def test_the_plan_gives_the_same_on_loaded_and_registered_inputs(tmp_path: Path) -> None:
    data = generate(tmp_path, contacts=2500, seed=9, drift=0.3, duplicates=0.05)
    files = data / CONTACTS_FILE, data / ACCOUNTS_FILE
    with DuckDB() as db:
        db.register("d", by_loader("dynamics", files[0]))
        db.register("s", by_loader("strivacity", files[1]))
        registered = _plan_outputs(db)
    with DuckDB() as db:
        load_exports(db, *files, DEFAULT_FIELDS)
        loaded = _plan_outputs(db)
    assert all(len(t) for t in registered[:2])
    for want, got in zip(registered, loaded, strict=True):
        assert got.equals(want)
