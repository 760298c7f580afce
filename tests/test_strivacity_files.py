"""Strivacity loaders: attribute resolution in to_canonical, and every export format."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from input_paths import checked

from recon import readers
from recon.errors import InputError
from recon.fields import STRIVACITY_COLUMNS, load_fields
from recon.normalize import STRING
from recon.strivacity.files import read_strivacity
from recon.strivacity.frame import flatten, to_canonical


@pytest.fixture(autouse=True)
def _duckdb_path_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file read here is read by DuckDB's path too, which must agree (``input_paths``)."""
    monkeypatch.setattr(sys.modules[__name__], "read_strivacity",
                        checked("strivacity", read_strivacity))


GUID = "49b0be2e-d01c-ed11-b83e-000d3a572421"
RECORDS = [
    {"id": "acc-1", "store": "default", "enabled": True, "language": "en-US",
     "createdAt": "2024-07-04T13:32:16.911Z", "updatedAt": "2025-01-10T08:01:02.000Z",
     "identities": {"email": {"id": "jo@example.com", "verified": True},
                    "phone": {"id": "+36301234567", "verified": False},
                    "local": {"id": "jo", "metadata": {
                        "name": {"givenName": "Local", "familyName": "Roe"},
                        "crm": {"dynamicsContactId": "{49B0BE2E-D01C-ED11-B83E-000D3A572421}"}}}},
     "accountInfo": {"name": {"givenName": "Jo"}, "emails": {"primaryEmail": "Jo@Example.com"},
                     "addresses": {"locality": "Budapest", "postalCode": "01234"}},
     "groups": [{"id": "vip"}]},
    {"id": "acc-2", "enabled": False, "createdAt": "2024-07-04T13:32:16Z", "updatedAt": None,
     "identities": {"email": {"id": "al@example.com", "verified": False}},
     "accountInfo": {"emails": {"primaryEmail": "  "}}},
    {"id": "acc-3", "enabled": True, "createdAt": "2024-07-04T13:32:16Z",
     "updatedAt": "2024-07-04T13:32:16Z", "identities": {}},
]


def assert_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns[:len(STRIVACITY_COLUMNS)]) == list(STRIVACITY_COLUMNS)
    assert all(c.startswith("raw_") for c in frame.columns[len(STRIVACITY_COLUMNS):])
    assert isinstance(frame.index, pd.RangeIndex)
    for column in ("record_id", "email", "email_key", "email_status", "given_name", "phone",
                   "postal_code", "link"):
        assert frame[column].dtype == STRING, column
    for column in ("active", "email_verified"):
        assert frame[column].dtype == "boolean", column
    for column in ("created_at", "updated_at"):
        assert str(frame[column].dtype) == "datetime64[ns, UTC]", column


def assert_records(frame: pd.DataFrame) -> None:
    """The three RECORDS, whatever format they came through."""
    assert_contract(frame)
    assert frame["record_id"].tolist() == ["acc-1", "acc-2", "acc-3"]
    assert frame["email"].tolist()[:2] == ["Jo@Example.com", "al@example.com"]
    assert frame["email_key"].tolist()[:2] == ["jo@example.com", "al@example.com"]
    assert frame["email_status"].tolist() == ["ok", "ok", "missing"]
    assert frame["given_name"].iloc[0] == "Jo"  # accountInfo before local metadata
    assert frame["family_name"].iloc[0] == "Roe"  # falls through to local metadata
    assert frame["phone"].iloc[0] == "+36301234567"
    assert frame["postal_code"].iloc[0] == "01234"
    assert frame["active"].tolist() == [True, False, True]
    assert frame["email_verified"].tolist()[:2] == [True, False]
    assert frame["link"].iloc[0] == GUID and pd.isna(frame["link"].iloc[1])
    assert frame["created_at"].iloc[0] == pd.Timestamp("2024-07-04T13:32:16.911Z")
    assert pd.isna(frame["updated_at"].iloc[1])
    assert frame["raw_language"].iloc[0] == "en-US"


def write_lines(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# --- to_canonical ---------------------------------------------------------------------------

def test_to_canonical_resolves_attributes_and_keeps_input() -> None:
    flat = flatten(RECORDS)
    before = flat.copy()
    assert_records(to_canonical(flat))
    pd.testing.assert_frame_equal(flat, before)


def test_top_level_attribute_columns_are_read() -> None:
    flat = pd.DataFrame({"id": ["a"], "name.givenName": ["Top"], "emails.primaryEmail": ["t@x.com"],
                         "enabled": ["TRUE"]})
    frame = to_canonical(flat)
    assert frame[["given_name", "email_key"]].iloc[0].tolist() == ["Top", "t@x.com"]
    assert frame["active"].iloc[0]


def test_field_map_link_attribute(tmp_path: Path) -> None:
    toml = tmp_path / "f.toml"
    toml.write_text('link_attribute = "custom.crmId"\n', encoding="utf-8")
    flat = pd.DataFrame({"id": ["a"], "identities.email.id": ["a@x.com"],
                         "accountInfo.custom.crmId": ["{ABC}"]})
    assert to_canonical(flat, load_fields(toml))["link"].tolist() == ["abc"]


def test_no_email_column_at_all_is_an_error() -> None:
    with pytest.raises(InputError, match="primaryEmail") as err:
        to_canonical(pd.DataFrame({"id": ["a"]}), source="a.csv", header_line=1)
    assert err.value.line == 1 and err.value.fix


def test_bad_enabled_value_names_line_and_column() -> None:
    flat = pd.DataFrame({"id": ["a", "b"], "identities.email.id": ["a@x.com", "b@x.com"],
                         "enabled": ["true", "perhaps"]})
    with pytest.raises(InputError) as err:
        to_canonical(flat, source="a.csv", line_of=lambda i: i + 2)
    assert (err.value.line, err.value.column) == (3, "enabled")


# --- file formats ---------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["ndjson", "jsonl"])
def test_ndjson(tmp_path: Path, suffix: str) -> None:
    assert_records(read_strivacity(write_lines(tmp_path / f"a.{suffix}", RECORDS)))


def test_ndjson_with_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    body = "\r\n\r\n".join(json.dumps(r) for r in RECORDS)
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8") + b"\r\n")
    assert_records(read_strivacity(path))


def test_ndjson_mixed_types_fall_back_to_exact_reading(tmp_path: Path) -> None:
    records = [*RECORDS, {"id": 4, "enabled": "false", "identities": {"email": {"id": "x@y.io"}}}]
    frame = read_strivacity(write_lines(tmp_path / "a.ndjson", records))
    assert frame["record_id"].tolist()[-1] == "4"
    assert not frame["active"].iloc[-1]


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    assert_records(read_strivacity(path))


def test_csv_dotted_headers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,enabled,createdAt,updatedAt,identities.email.id,identities.email.verified,"
        "emails.primaryEmail,name.givenName,accountInfo.name.familyName,"
        "identities.local.metadata.crm.dynamicsContactId,addresses.postalCode\n"
        "00042,true,2024-07-04T13:32:16Z,,jo@example.com,false,,Jo,Roe,"
        "{49B0BE2E-D01C-ED11-B83E-000D3A572421},01234\n", encoding="utf-8")
    frame = read_strivacity(path)
    assert_contract(frame)
    row = frame.iloc[0]
    assert row["record_id"] == "00042" and row["postal_code"] == "01234"
    assert row["email_key"] == "jo@example.com" and row["link"] == GUID
    assert row["given_name"] == "Jo" and row["family_name"] == "Roe"
    assert frame["email_verified"].tolist() == [False]


def test_record_without_email_stays_in_the_frame(tmp_path: Path) -> None:
    frame = read_strivacity(write_lines(tmp_path / "a.ndjson", RECORDS))
    assert len(frame) == len(RECORDS)
    assert frame["email_status"].iloc[2] == "missing"


# --- malformed files ------------------------------------------------------------------------

def raises(path: Path) -> InputError:
    with pytest.raises(InputError) as err:
        read_strivacity(path)
    assert err.value.file == str(path)
    assert err.value.fix and str(err.value).endswith(err.value.fix)
    return err.value


def test_bad_json_line(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_text(json.dumps(RECORDS[0]) + "\n{\"id\": \"x\",\n", encoding="utf-8")
    error = raises(path)
    assert error.line == 2 and "JSON" in str(error)


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    error = raises(write_lines(tmp_path / "a.ndjson", [RECORDS[0], "just text"]))
    assert error.line == 2 and "string" in str(error)


def test_non_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_bytes(json.dumps(RECORDS[0]).encode() + b'\n{"id": "b", "x": "caf\xe9"}\n')
    error = raises(path)
    assert error.line == 2 and "UTF-8" in str(error)


def test_record_without_id_names_its_line(tmp_path: Path) -> None:
    error = raises(write_lines(tmp_path / "a.ndjson",
                               [RECORDS[0], RECORDS[1], {**RECORDS[2], "id": None}]))
    assert error.line == 3 and error.column == "id"


def test_missing_id_column(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("emails.primaryEmail\na@x.com\n", encoding="utf-8")
    error = raises(path)
    assert "'id'" in str(error) and error.line == 1


def test_duplicate_headers(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,name.givenName,name.givenName\n1,a,b\n", encoding="utf-8")
    assert "name.givenName" in str(raises(path))


def test_csv_row_with_too_few_fields(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,identities.email.id\n1,a@x.com\n2\n", encoding="utf-8")
    assert raises(path).line == 3


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_text("\n\n", encoding="utf-8")
    assert "empty" in str(raises(path))


def test_bad_timestamp_names_line(tmp_path: Path) -> None:
    error = raises(write_lines(tmp_path / "a.ndjson",
                               [RECORDS[0], {**RECORDS[1], "createdAt": "last tuesday"}]))
    assert (error.line, error.column) == (2, "createdAt")


# --- reading large files without a copy in memory ------------------------------------------

def _copies(n: int) -> list[dict]:
    """``n`` copies of RECORDS, each record with an id of its own."""
    return [{**r, "id": f"{r['id']}-{k}"} for k in range(n) for r in RECORDS]


def test_ndjson_whose_later_records_bring_new_fields(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # The streaming reader takes its schema from the first block; a field or type first seen
    # later makes it read the whole file again, so nothing is lost.
    monkeypatch.setattr(readers, "STREAM_BLOCK", 512)
    late = {**RECORDS[2], "id": "acc-9", "enabled": False,
            "accountInfo": {"name": {"middleName": "Q"}}, "nickname": "Jojo"}
    frame = read_strivacity(write_lines(tmp_path / "a.ndjson", [*_copies(4), late]))
    assert frame["record_id"].tolist()[-1] == "acc-9" and len(frame) == 13
    assert frame["middle_name"].tolist()[-1] == "Q" and frame["active"].tolist()[-1] is False
    assert frame["raw_nickname"].tolist()[-1] == "Jojo"
    assert frame["given_name"].iloc[3] == "Jo"


def test_ndjson_streamed_in_small_blocks_matches_one_block(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_lines(tmp_path / "a.ndjson", _copies(50))
    whole = read_strivacity(path)
    monkeypatch.setattr(readers, "STREAM_BLOCK", 1024)
    pd.testing.assert_frame_equal(read_strivacity(path), whole)


def test_blank_file_longer_than_the_first_read_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + b" \n" * 100_000)
    assert "empty" in str(raises(path))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40).map(lambda b: bytes(c % 5 for c in b).translate(
           bytes.maketrans(b"\x00\x01\x02\x03\x04", b'ab\r\n"'))),
       st.sampled_from([1, 2, 3, 7, 64]))
def test_line_count_matches_counting_the_whole_file(data: bytes, block: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f"
        path.write_bytes(data)
        original, readers.BLOCK = readers.BLOCK, block
        try:
            lines, quoted = readers.scan_lines(path)
            assert lines == data.rstrip(b"\r\n").count(b"\n") + 1 == readers.line_count(path)
            assert quoted == (b'"' in data)
        finally:
            readers.BLOCK = original


# --- the identity store (issue 10, point 5) -------------------------------------------------

def test_store_comes_from_the_record_else_from_strivacity_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIVACITY_STORE", "brand-x")
    records = [{**RECORDS[0]}, {**RECORDS[1], "store": " "}, {**RECORDS[2], "store": "eu"}]
    frame = read_strivacity(write_lines(tmp_path / "a.ndjson", records))
    assert frame["store"].tolist() == ["default", "brand-x", "eu"]
    assert "raw_store" not in frame.columns


@pytest.mark.parametrize("env", [None, "brand-x"])
def test_an_export_without_store_updates_the_store_the_setting_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str | None) -> None:
    from recon.api import reconcile_files
    if env is None:
        monkeypatch.delenv("STRIVACITY_STORE", raising=False)
    else:
        monkeypatch.setenv("STRIVACITY_STORE", env)
    contacts = tmp_path / "c.csv"
    contacts.write_text("contactid,emailaddress1,lastname,statecode\n"
                        f"{GUID},jo@example.com,Roe,0\n", encoding="utf-8")
    accounts = tmp_path / "a.csv"  # a CSV export has no store column
    accounts.write_text("id,identities.email.id,name.familyName,enabled\n"
                        "acc-1,jo@example.com,Roe,true\nacc-2,new@example.com,New,true\n",
                        encoding="utf-8")
    result, _ = reconcile_files(contacts, accounts, tmp_path / "run")
    lines = list(result.batch_lines("update_strivacity"))
    assert {line["accountId"] for line in lines} == {"acc-1", "acc-2"}
    assert {line["identityStore"] for line in lines} == {env or "default"}
    assert read_strivacity(accounts, store="given")["store"].tolist() == ["given"] * 2


# --- a record id on two records (issue 10, point 16) ---------------------------------------

@pytest.mark.parametrize("ext", ["ndjson", "csv", "json"])
def test_an_account_id_on_two_records_names_both(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"a.{ext}"
    rows = [("acc-1", "a@x.com"), ("acc-2", "b@x.com"), (" acc-1", "c@x.com")]
    if ext == "csv":
        path.write_text("id,identities.email.id\n" + "".join(f"{i},{e}\n" for i, e in rows),
                        encoding="utf-8")
    else:
        records = [{"id": i, "identities": {"email": {"id": e}}} for i, e in rows]
        if ext == "json":
            path.write_text(json.dumps(records), encoding="utf-8")
        else:
            write_lines(path, records)
    error = raises(path)
    where, line = {"json": ("row 1 and row 3", None), "csv": ("line 2 and line 4", 4),
                   "ndjson": ("line 1 and line 3", 3)}[ext]
    assert (error.record, error.column, error.line) == ("acc-1", "id", line)
    assert where in str(error) and "appear once" in str(error.fix)
