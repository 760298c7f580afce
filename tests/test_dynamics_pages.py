"""Page bodies to all-text Arrow tables: the C path must give exactly what the json path gives."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from recon.dynamics.pages import ArrowPages, PageTables, memory_pool, rows_to_table

COLUMNS = ["contactid", "statecode", "createdon", "donotemail", "missing"]
ROWS = [{"@odata.etag": 'W/"7"', "contactid": "a", "statecode": 0,
         "createdon": "2024-01-02T03:04:05Z", "donotemail": True},
        {"@odata.etag": 'W/"8"', "contactid": "zoë", "statecode": None, "createdon": None,
         "donotemail": False}]


def body(rows: list[dict], **links: str) -> bytes:
    return json.dumps({"@odata.context": "x", "value": rows, **links}).encode()


def test_arrow_pages_match_the_json_path_and_keep_dates_as_sent() -> None:
    page = ArrowPages(COLUMNS)(body(ROWS, **{"@odata.nextLink": "https://n"}))
    assert page is not None and page["@odata.nextLink"] == "https://n"
    assert page["value"].equals(rows_to_table(ROWS, COLUMNS))
    assert page["value"].column("createdon").to_pylist() == ["2024-01-02T03:04:05Z", None]
    assert page["value"].column("donotemail").to_pylist() == ["true", "false"]
    assert all(field.type == pa.string() for field in page["value"].schema)


def test_a_pretty_printed_body_or_one_in_arrow_memory_parses_the_same() -> None:
    links = {"@odata.nextLink": "https://n"}
    pretty = json.dumps({"@odata.context": "x", "value": ROWS, **links}, indent=2).encode()
    assert pretty.count(b"\n") > 10
    for sent in (pretty, pa.py_buffer(body(ROWS, **links))):
        page = ArrowPages(COLUMNS)(sent)
        assert page is not None and page["@odata.nextLink"] == "https://n"
        assert page["value"].equals(rows_to_table(ROWS, COLUMNS))


def test_arrow_pages_decline_what_json_renders_differently_then_learn_again() -> None:
    decode = ArrowPages(COLUMNS)
    assert decode(body(ROWS)) is not None
    assert decode(body([{**ROWS[0], "statecode": 2.0}])) is None  # json keeps "2.0"
    assert decode(body([{**ROWS[0], "contactid": {"nested": 1}}])) is None
    assert decode(b"<html>not json</html>") is None
    changed = [{**ROWS[0], "statecode": "1"}]  # a number column now sent as text
    page = decode(body(changed))
    assert page is not None and page["value"].column("statecode").to_pylist() == ["1"]


def test_page_tables_convert_like_json_text_whatever_each_page_holds() -> None:
    convert = PageTables(COLUMNS)
    for rows in (ROWS, [{**ROWS[0], "contactid": 5, "statecode": 1.5}], ROWS):
        table = convert(rows)
        assert table.column("contactid").to_pylist()[0] == str(rows[0]["contactid"])
        assert table.column("statecode").to_pylist()[0] == str(rows[0]["statecode"])
        assert table.column("missing").null_count == len(rows)


def test_pages_use_jemalloc_or_else_the_system_pool_never_the_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert memory_pool().backend_name in ("jemalloc", "system")

    def absent() -> pa.MemoryPool:
        raise pa.ArrowNotImplementedError("This Arrow build does not enable jemalloc")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", absent)
    assert memory_pool.__wrapped__().backend_name == "system"
