"""Dynamics loaders: to_canonical over raw rows, and every file format with its errors."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from input_paths import checked
from openpyxl import Workbook

from recon.dynamics import files as dynamics_files
from recon.dynamics.files import read_dynamics
from recon.dynamics.frame import to_canonical
from recon.errors import ConfigError, InputError
from recon.fields import DYNAMICS_COLUMNS, load_fields
from recon.normalize import STRING


@pytest.fixture(autouse=True)
def _duckdb_path_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file read here is read by DuckDB's path too, which must agree (``input_paths``)."""
    monkeypatch.setattr(sys.modules[__name__], "read_dynamics", checked("dynamics", read_dynamics))


GUID = "49b0be2e-d01c-ed11-b83e-000d3a572421"
ROWS = [
    {"contactid": "{49B0BE2E-D01C-ED11-B83E-000D3A572421}", "emailaddress1": " Jo@Example.COM ",
     "emailaddress2": "jo.alt@example.com", "firstname": "Jo", "lastname": "Roe",
     "mobilephone": "+1 (415) 555-0100", "telephone1": "555-0199", "address1_city": "Paris",
     "statecode": "0", "createdon": "2024-03-01T10:00:00Z", "modifiedon": "2024-03-02T11:00:00Z",
     "versionnumber": "1001"},
    {"contactid": "70bf4d48-34cb-ed11-b596-0022481d68cd", "emailaddress1": "not-an-email",
     "emailaddress2": "", "firstname": "", "lastname": "Doe", "mobilephone": "",
     "telephone1": "", "address1_city": "", "statecode": "1",
     "createdon": "2024-03-01T10:00:00Z", "modifiedon": "", "versionnumber": ""},
    {"contactid": "d5026a4d-d01c-ed11-b83e-000d3a572421", "emailaddress1": "",
     "emailaddress2": "", "firstname": "Ann", "lastname": "Lee", "mobilephone": "0044 20 7946 0958",
     "telephone1": "", "address1_city": "", "statecode": "0",
     "createdon": "2024-03-01T10:00:00Z", "modifiedon": "2024-03-01T10:00:00Z",
     "versionnumber": "7"},
]


def write_csv(path: Path, rows: list[dict], bom: bool = False) -> Path:
    frame = pd.DataFrame(rows)
    text = frame.to_csv(index=False, lineterminator="\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def assert_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns[:len(DYNAMICS_COLUMNS)]) == list(DYNAMICS_COLUMNS)
    assert all(c.startswith("raw_") for c in frame.columns[len(DYNAMICS_COLUMNS):])
    assert isinstance(frame.index, pd.RangeIndex)
    for column in ("record_id", "email", "email_key", "email_status", "given_name", "phone",
                   "etag", "email2_key", "email3_key"):
        assert frame[column].dtype == STRING, column
    assert frame["active"].dtype == "boolean"
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["updated_at"].dtype) == "datetime64[ns, UTC]"


def assert_rows(frame: pd.DataFrame) -> None:
    """The three ROWS, whatever format they came through."""
    assert_contract(frame)
    assert frame["record_id"].tolist() == [GUID, "70bf4d48-34cb-ed11-b596-0022481d68cd",
                                           "d5026a4d-d01c-ed11-b83e-000d3a572421"]
    assert frame["email_key"].iloc[0] == "jo@example.com"
    assert frame["email_status"].tolist() == ["ok", "invalid", "missing"]
    assert frame["email2_key"].iloc[0] == "jo.alt@example.com"
    assert frame["active"].tolist() == [True, False, True]
    # mapped fields are what Dynamics holds; the engine compares them through normalize
    assert frame["phone"].tolist()[0] == "+1 (415) 555-0100"
    assert frame["phone"].iloc[2] == "0044 20 7946 0958"
    assert pd.isna(frame["given_name"].iloc[1])
    assert frame["created_at"].iloc[0] == pd.Timestamp("2024-03-01T10:00:00Z")
    assert pd.isna(frame["updated_at"].iloc[1])
    assert frame["etag"].tolist()[0] == 'W/"1001"'
    assert pd.isna(frame["etag"].iloc[1])
    assert frame["raw_telephone1"].iloc[0] == "555-0199"


# --- to_canonical ----------------------------------------------------------------------------

OTHER = GUID[:-1] + ("0" if GUID[-1] != "0" else "1")


def test_to_canonical_from_typed_web_api_rows_keeps_input_unchanged() -> None:
    raw = pd.DataFrame([
        {"@odata.etag": 'W/"72201545"', "contactid": GUID, "emailaddress1": "a@x.com",
         "statecode": 1, "createdon": "2023-04-07T21:59:01Z", "modifiedon": None,
         "versionnumber": 72201545, "mobilephone": None},
        {"@odata.etag": None, "contactid": OTHER.upper(), "emailaddress1": None,
         "statecode": 0, "createdon": None, "modifiedon": "2023-04-07T21:59:01Z",
         "versionnumber": 5, "mobilephone": "+33 1 23 45 67 89"},
    ], index=[10, 20])
    before = raw.copy()
    frame = to_canonical(raw)
    pd.testing.assert_frame_equal(raw, before)
    assert_contract(frame)
    assert frame["etag"].tolist() == ['W/"72201545"', 'W/"5"']
    assert frame["active"].tolist() == [False, True]
    assert frame["record_id"].tolist() == [GUID, OTHER]
    assert frame["phone"].iloc[1] == "+33 1 23 45 67 89"  # as Dynamics holds it
    assert frame["raw_versionnumber"].tolist() == [72201545, 5]


def test_to_canonical_missing_required_columns_lists_them() -> None:
    with pytest.raises(InputError) as err:
        to_canonical(pd.DataFrame({"firstname": ["Jo"]}), source="rows.csv", header_line=1)
    assert "contactid" in str(err.value) and "emailaddress1" in str(err.value)
    assert err.value.file == "rows.csv" and err.value.line == 1 and err.value.fix


def test_to_canonical_follows_the_field_map(tmp_path: Path) -> None:
    toml = tmp_path / "fields.toml"
    toml.write_text('[fields.email]\ndynamics = "emailaddress2"\n', encoding="utf-8")
    raw = pd.DataFrame({"contactid": [GUID], "emailaddress2": ["b@x.com"]})
    frame = to_canonical(raw, load_fields(toml))
    assert frame["email_key"].tolist() == ["b@x.com"]


@pytest.mark.parametrize(("column", "value"), [("createdon", "yesterday"),
                                               ("modifiedon", "2024-13-45"),
                                               ("statecode", "2")])
def test_to_canonical_unparseable_value_names_row_and_column(column: str, value: str) -> None:
    raw = pd.DataFrame([ROWS[0], {**ROWS[2], column: value}], dtype=str)
    with pytest.raises(InputError) as err:
        to_canonical(raw, source="c.csv", line_of=lambda i: i + 2)
    assert err.value.line == 3 and err.value.column == column and err.value.file == "c.csv"
    assert value in str(err.value)


def test_to_canonical_without_lines_names_the_record() -> None:
    raw = pd.DataFrame([{**ROWS[2], "createdon": "soon"}])
    with pytest.raises(InputError) as err:
        to_canonical(raw)
    assert err.value.record is not None and "d5026a4d" in err.value.record
    assert "row 1" in err.value.record


def test_to_canonical_row_without_id_is_an_error() -> None:
    raw = pd.DataFrame([ROWS[0], {**ROWS[1], "contactid": "  "}])
    with pytest.raises(InputError) as err:
        to_canonical(raw, source="c.csv", line_of=lambda i: i + 2)
    assert err.value.line == 3 and err.value.column == "contactid"


def test_to_canonical_is_fast_enough_for_a_million_rows() -> None:
    import time
    n = 200_000
    raw = pd.DataFrame({"contactid": [f"{i:08x}-0000-0000-0000-000000000000" for i in range(n)],
                        "emailaddress1": [f"u{i}@example.com" for i in range(n)],
                        "firstname": ["Jo"] * n, "statecode": ["0"] * n,
                        "createdon": ["2024-03-01T10:00:00Z"] * n}, dtype=str)
    start = time.perf_counter()
    frame = to_canonical(raw)
    assert len(frame) == n
    assert time.perf_counter() - start < 10  # a generous bound; ~1s locally


# --- file formats ---------------------------------------------------------------------------

def test_csv_with_bom_keeps_text_and_empty_becomes_na(tmp_path: Path) -> None:
    rows = [{**ROWS[0], "address1_postalcode": "01234"}, ROWS[1], ROWS[2]]
    frame = read_dynamics(write_csv(tmp_path / "c.csv", rows, bom=True))
    assert_rows(frame)
    assert frame["postal_code"].iloc[0] == "01234"


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    typed = pd.DataFrame(ROWS).replace("", None)
    typed["statecode"] = typed["statecode"].astype(int)
    typed["versionnumber"] = pd.to_numeric(typed["versionnumber"])  # floats with a gap
    typed.to_parquet(path)
    assert_rows(read_dynamics(path))


@pytest.mark.parametrize("envelope", [False, True])
def test_json_array_and_web_api_page(tmp_path: Path, envelope: bool) -> None:
    rows = [{k: (None if v == "" else v) for k, v in r.items()} for r in ROWS]
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"value": rows} if envelope else rows), encoding="utf-8")
    assert_rows(read_dynamics(path))


def test_jsonl_and_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "contacts.txt"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    assert_rows(read_dynamics(path, format="jsonl"))


def excel_export(path: Path, rows: list[list[object]]) -> Path:
    """A workbook shaped like Dynamics' Export to Excel, hidden columns included."""
    book = Workbook()
    sheet = book.active
    sheet.append(["(Do Not Modify) Contact", "(Do Not Modify) Row Checksum",
                  "(Do Not Modify) Modified On", "Full Name", "Email", "First Name",
                  "Last Name", "Mobile Phone", "Address 1: City", "Status", "Modified On"])
    for row in rows:
        sheet.append(row)
    for letter in "ABC":
        sheet.column_dimensions[letter].hidden = True
    book.save(path)
    return path


def test_xlsx_export_to_excel(tmp_path: Path) -> None:
    stamp = dt.datetime(2024, 3, 2, 11, 0)
    path = excel_export(tmp_path / "c.xlsx", [
        [GUID, "abc==", stamp, "Jo Roe", "jo@example.com", "Jo", "Roe", 14155550100,
         "Paris", "Active", "3/2/2024 12:00 PM"],
        [None] * 11,
        ["70bf4d48-34cb-ed11-b596-0022481d68cd", "def==", stamp, "Al Doe", None, "Al", "Doe",
         None, None, "Inactive", None],
    ])
    frame = read_dynamics(path)
    assert_contract(frame)
    assert frame["record_id"].tolist() == [GUID, "70bf4d48-34cb-ed11-b596-0022481d68cd"]
    assert frame["email_status"].tolist() == ["ok", "missing"]
    assert frame["active"].tolist() == [True, False]
    assert frame["updated_at"].iloc[0] == pd.Timestamp("2024-03-02T11:00:00Z")
    # A number cell reads as its digits, never "1.4e10" or ".0" (a national number without a
    # phone_region is not a phone the comparer can read, so the raw rows are checked).
    assert str(dynamics_files._read_xlsx(path).frame["mobilephone"].iloc[0]) == "14155550100"
    assert frame["raw_rowchecksum"].iloc[0] == "abc=="
    assert frame["raw_modifiedon_local"].iloc[0] == "3/2/2024 12:00 PM"


def test_csv_saved_from_an_excel_export(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("(Do Not Modify) Contact,(Do Not Modify) Row Checksum,"
                    "(Do Not Modify) Modified On,Email,Last Name,Status\n"
                    f"{GUID},abc,2024-03-02T11:00:00Z,jo@example.com,Roe,Active\n",
                    encoding="utf-8")
    frame = read_dynamics(path)
    assert frame[["record_id", "email_key", "family_name"]].iloc[0].tolist() == [
        GUID, "jo@example.com", "Roe"]
    assert frame["active"].tolist() == [True]


def test_xlsx_bad_status_names_the_sheet_row(tmp_path: Path) -> None:
    path = excel_export(tmp_path / "c.xlsx", [
        [GUID, "a", None, "", "a@x.com", "", "", None, None, "Active", None],
        [None] * 11,
        [OTHER, "b", None, "", "b@x.com", "", "", None, None, "Maybe", None],
    ])
    with pytest.raises(InputError) as err:
        read_dynamics(path)
    assert err.value.line == 4 and err.value.column == "statecode"


def test_xlsx_without_hidden_id_column(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["Email", "First Name"])
    book.active.append(["a@x.com", "Al"])
    book.save(tmp_path / "c.xlsx")
    with pytest.raises(InputError, match="Do Not Modify"):
        read_dynamics(tmp_path / "c.xlsx")


# --- malformed files ------------------------------------------------------------------------

def raises(path: Path, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as err:
        read_dynamics(path, **kwargs)  # type: ignore[arg-type]
    assert err.value.file == str(path)
    assert err.value.fix and str(err.value).endswith(err.value.fix)
    return err.value


def test_csv_row_with_too_many_fields(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("contactid,emailaddress1\n1,a@x.com\n2,b@x.com,extra\n", encoding="utf-8")
    assert raises(path).line == 3


def test_csv_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"contactid,emailaddress1,firstname\n1,a@x.com,Jo\n2,b@x.com,Ren\xe9\n")
    error = raises(path)
    assert error.line == 3 and "UTF-8" in str(error)


def test_csv_missing_required_column(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("contactid,firstname\n1,Jo\n", encoding="utf-8")
    error = raises(path)
    assert "emailaddress1" in str(error) and error.line == 1


def test_csv_duplicate_headers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("contactid,emailaddress1,emailaddress1\n1,a@x.com,b@x.com\n",
                    encoding="utf-8")
    error = raises(path)
    assert "emailaddress1" in str(error) and error.line == 1


def test_csv_bad_date_line_counts_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('contactid,emailaddress1,address1_line1,createdon\n'
                    '1,a@x.com,"1 Main St\nFlat 2",2024-03-01T10:00:00Z\n'
                    '2,b@x.com,,not a date\n', encoding="utf-8")
    error = raises(path)
    assert error.line == 4 and error.column == "createdon"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xef\xbb\xbf")
    assert "empty" in str(raises(path))


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[\n{"contactid": "1"},\n{"contactid": }\n]', encoding="utf-8")
    assert raises(path).line == 3


def test_json_item_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[{"contactid": "1", "emailaddress1": null}, 5]', encoding="utf-8")
    assert raises(path).record == "#2"


def test_jsonl_line_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"contactid": "1", "emailaddress1": null}\n\n["x"]\n', encoding="utf-8")
    error = raises(path)
    assert error.line == 3 and "array" in str(error)


def test_unknown_extension_and_format(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("x", encoding="utf-8")
    assert "format" in str(raises(path))
    with pytest.raises(ConfigError, match="csv"):
        read_dynamics(path, format="yaml")


def test_missing_file(tmp_path: Path) -> None:
    raises(tmp_path / "nope.csv")


# --- fast paths give what the exact ones give ------------------------------------------------

def test_csv_quoted_and_unquoted_empty_cells_are_na_but_spaces_stay(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('contactid,emailaddress1,telephone1,jobtitle\n'
                    '1,a@x.com,"",\n2,b@x.com," ","x"\n', encoding="utf-8")
    frame = read_dynamics(path)
    assert frame["raw_telephone1"].isna().tolist() == [True, False]
    assert frame["raw_telephone1"].iloc[1] == " " and frame["raw_jobtitle"].iloc[1] == "x"
    assert frame["raw_jobtitle"].dtype == STRING


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00Z"),  # zoned: read by pyarrow
    ("2024-03-01T10:00:00.123456789Z", "2024-03-01T10:00:00.123456789Z"),
    ("2024-03-01T10:00:00", "2024-03-01T10:00:00Z"),  # naive: pandas reads it as UTC
    ("2024-03-01", "2024-03-01T00:00:00Z"),
])
def test_timestamps_with_and_without_zone(stamp: str, expected: str) -> None:
    raw = pd.DataFrame({"contactid": ["1", "2"], "emailaddress1": ["a@x.com", "b@x.com"],
                        "createdon": ["2024-03-01T10:00:00Z", stamp]}, dtype=STRING)
    created = to_canonical(raw)["created_at"]
    assert str(created.dtype) == "datetime64[ns, UTC]"
    assert created.tolist() == [pd.Timestamp("2024-03-01T10:00:00Z"), pd.Timestamp(expected)]


def test_bad_timestamp_among_good_ones_names_its_row() -> None:
    stamps = ["2024-03-01T10:00:00Z"] * 5 + ["2024-02-30T10:00:00Z"]
    raw = pd.DataFrame({"contactid": [str(i) for i in range(6)],
                        "emailaddress1": ["a@x.com"] * 6, "modifiedon": stamps}, dtype=STRING)
    with pytest.raises(InputError) as err:
        to_canonical(raw, source="c.csv", line_of=lambda i: i + 2)
    assert (err.value.line, err.value.column) == (7, "modifiedon")


@pytest.mark.parametrize("second", [GUID, GUID.upper(), "{" + GUID + "}", f" {GUID} "])
def test_a_contactid_on_two_rows_names_both_lines(tmp_path: Path, second: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text("contactid,emailaddress1\n"
                    f"{GUID},a@x.com\n{OTHER},b@x.com\n{second},c@x.com\n", encoding="utf-8")
    error = raises(path)
    assert (error.line, error.column, error.record) == (4, "contactid", GUID)
    assert "line 2 and line 4" in str(error) and "appear once" in error.fix


def test_a_contactid_on_two_jsonl_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(f'{{"contactid": "{GUID}", "emailaddress1": "a@x.com"}}\n\n'
                    f'{{"contactid": "{GUID}", "emailaddress1": "b@x.com"}}\n', encoding="utf-8")
    error = raises(path)
    assert error.line == 3 and "line 1 and line 3" in str(error)


def test_a_whole_float_past_int64_is_printed_not_a_traceback() -> None:
    raw = pd.DataFrame({"contactid": [GUID], "emailaddress1": ["a@x.com"],
                        "mobilephone": [9.223372036854776e18]})
    assert to_canonical(raw)["phone"].tolist() == ["9.223372036854776e+18"]
