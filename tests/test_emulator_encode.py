"""Pre-encoded rows and remembered plans: same JSON as rendering afresh, never a stale answer."""

from __future__ import annotations

import json
import uuid

from recon.emulator.dataverse_encode import PageCache
from recon.emulator.dataverse_query import ContactQueries
from recon.emulator.store import ContactStore
from recon.emulator.wire import Request

ROWS = [{"contactid": str(uuid.UUID(int=i)), "emailaddress1": f"p{i}@exämple.com",
         "firstname": 'Jo "Q"' if i == 1 else None, "statecode": i % 2,
         "createdon": f"2024-01-{i + 1:02d}T00:00:00Z"} for i in range(6)]
SELECT = "$select=emailaddress1,firstname,statecode"


def get(queries: ContactQueries, query: str) -> dict:
    response = queries.get(Request("GET", "/api/data/v9.2/contacts", query,
                                   {"prefer": "odata.maxpagesize=4"}))
    assert response.status == 200, response.body
    return json.loads(response.body)


def test_encoded_rows_are_what_render_gives() -> None:
    store = ContactStore(ROWS)
    queries = ContactQueries(store, "https://org")
    for _ in range(2):  # the second read comes from the encoded rows
        page = get(queries, SELECT)
        select = ("emailaddress1", "firstname", "statecode")
        assert page["value"] == [queries.render(store.records()[i], select) for i in range(4)]
        assert [list(row) for row in page["value"]][0] == ["@odata.etag", *select, "contactid"]


def test_a_write_changes_both_the_row_text_and_the_filtered_answer() -> None:
    store = ContactStore(ROWS)
    queries = ContactQueries(store, "https://org")
    query = f"{SELECT}&$filter=createdon%20ge%202024-01-04T00:00:00Z"
    assert len(get(queries, query)["value"]) == 3
    store.update(ROWS[5]["contactid"], {"firstname": "New"})
    store.delete(ROWS[4]["contactid"])
    rows = get(queries, query)["value"]
    assert [r["firstname"] for r in rows] == [None, "New"]


def test_a_rolled_back_changeset_is_not_served_from_a_remembered_plan() -> None:
    store = ContactStore(ROWS)
    queries = ContactQueries(store, "https://org")
    query = f"{SELECT}&$filter=statecode%20eq%201"
    with store.transaction() as rollback:
        store.update(ROWS[0]["contactid"], {"statecode": 1})
        assert len(get(queries, query)["value"]) == 4
        rollback()
    assert len(get(queries, query)["value"]) == 3


def test_a_page_is_joined_once_per_store_version() -> None:
    store = ContactStore(ROWS)
    queries = ContactQueries(store, "https://org")
    made: list[int] = []
    join = queries.encoder.encode

    def counting(*args: object) -> list[bytes]:
        made.append(1)
        return join(*args)  # type: ignore[arg-type]

    queries.encoder.encode = counting  # type: ignore[method-assign]
    first, again = get(queries, SELECT), get(queries, SELECT)
    assert first["value"] == again["value"] and len(made) == 1
    store.update(ROWS[0]["contactid"], {"firstname": "Changed"})
    assert get(queries, SELECT)["value"][0]["firstname"] == "Changed" and len(made) == 2


def test_the_page_cache_drops_the_oldest_pages_past_its_limit() -> None:
    cache = PageCache(limit=10)
    assert cache.get(1, ("a",), ["x"], lambda: b"123456") == b"123456"
    assert cache.get(1, ("a",), ["y"], lambda: b"abcdef") == b"abcdef"
    assert cache.get(1, ("a",), ["x"], lambda: b"fresh!") == b"fresh!"  # x was dropped
    assert cache.get(1, ("a",), ["x"], lambda: b"never") == b"fresh!"
