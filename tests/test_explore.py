"""Searching run tables over every row and showing them in parts (recon.explore)."""

from __future__ import annotations

import pandas as pd
import pytest

from recon import explore


def table(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"email_key": [f"user{i}@example.com" for i in range(rows)],
                         "record_id": [f"id-{i}" for i in range(rows)],
                         "group_size": range(rows)})


def test_search_finds_a_row_far_past_what_a_page_would_hold() -> None:
    # A browser table downsampled to 64 KB never saw row 1,500; the search is over all rows.
    part = explore.search(table(1592), "USER1500@", name="matches")
    assert part.rows["record_id"].tolist() == ["id-1500"]
    assert part.matching == 1 and part.total == 1592
    assert part.caption == "matches: 1 of 1,592 rows matching 'USER1500@', all shown"


def test_search_reads_every_column_as_text_and_ignores_blanks() -> None:
    frame = pd.DataFrame({"a": ["x", None, "y"], "n": [10, 205, None]})
    assert explore.search(frame, "20").rows["n"].tolist() == [205]
    assert explore.search(frame, "Y").rows["a"].tolist() == ["y"]
    assert explore.search(frame, "nothing").matching == 0


def test_a_part_says_it_is_a_part_and_how_to_see_the_rest() -> None:
    part = explore.search(table(5000), "example", name="drift", limit=1000)
    assert len(part.rows) == 1000 and part.matching == 5000
    assert part.caption.startswith("drift: showing the first 1,000 of 5,000 rows matching")
    assert "(of 5,000)" in part.caption and "`search`" in part.caption
    assert "`export_path`" in part.caption
    whole = explore.search(table(10), name="review")
    assert whole.caption == "review: 10 rows, all shown"


def test_the_page_holds_every_row_of_the_part_without_downsampling() -> None:
    # Wide enough that itables' default maxBytes (64 KB) would downsample it.
    frame = table(3000).assign(note=["n" * 60] * 3000)
    html = explore.search(frame, name="matches", limit=1500)._repr_html_()
    assert "user1499@example.com" in html and "downsampled" not in html
    assert "user1500@example.com" not in html


@pytest.mark.parametrize("query", ["", "  "])
def test_an_empty_search_shows_everything(query: str) -> None:
    part = explore.search(table(3), query)
    assert part.matching == 3 and part.rows.index.tolist() == [0, 1, 2]


def test_blanks_show_as_empty_cells_not_nan() -> None:
    frame = pd.DataFrame({"dynamics_value": ["Marta"], "strivacity_value": [None],
                          "n": [float("nan")]})
    html = explore.search(frame)._repr_html_()
    assert "Marta" in html and "NaN" not in html and "<NA>" not in html and "None" not in html
