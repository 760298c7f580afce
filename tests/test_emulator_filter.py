"""The emulator's OData $filter/$orderby compiler, without a server."""

from __future__ import annotations

import pytest

from recon.emulator.odata_filter import FilterError, compile_filter, parse_orderby, sort_records

COLUMNS = {"contactid": 0, "emailaddress1": 1, "lastname": 2, "statecode": 3, "modifiedon": 4}
ROWS = [
    ("a", "Jo@X.com", "O'Bryan", 0, "2024-03-01T10:00:00Z"),
    ("b", "y@x.com", "Roe", 1, "2023-12-31T23:59:59Z"),
    ("c", None, None, 0, "2024-01-01T00:00:00Z"),
    ("d", "x' or 1 eq 1 or emailaddress1 eq 'y", "Kim", 0, None),
]


def matching(text: str) -> list[str]:
    predicate = compile_filter(text, COLUMNS)
    return [row[0] for row in ROWS if predicate(row)]


@pytest.mark.parametrize(("text", "expected"), [
    ("emailaddress1 eq 'jo@x.com'", ["a"]),  # case-insensitive, as Dataverse
    ("lastname eq 'O''Bryan'", ["a"]),  # a doubled quote is one quote
    ("statecode eq 0 and emailaddress1 ne null", ["a", "d"]),
    ("statecode eq 1 or lastname eq 'kim'", ["b", "d"]),
    ("not (statecode eq 0)", ["b"]),
    ("(statecode eq 0 or statecode eq 1) and lastname eq null", ["c"]),
    ("emailaddress1 eq null", ["c"]),
    ("modifiedon ge 2024-01-01T00:00:00Z", ["a", "c"]),
    ("modifiedon lt 2024-01-01", ["b"]),
    ("statecode gt 0", ["b"]),
    ("startswith(emailaddress1,'JO@') or endswith(lastname,'oe')", ["a", "b"]),
    ("contains(lastname,'bry')", ["a"]),
])
def test_filter_matches(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


def test_escaped_injection_attempt_is_one_literal() -> None:
    hostile = "x' or 1 eq 1 or emailaddress1 eq 'y"
    escaped = hostile.replace("'", "''")
    assert matching(f"emailaddress1 eq '{escaped}'") == ["d"]  # only the row holding that text
    assert matching(f"emailaddress1 eq 'no{escaped}'") == []


def test_unescaped_quote_is_rejected_like_dataverse() -> None:
    text = "lastname eq 'O'Bryan'"
    with pytest.raises(FilterError, match=r"unterminated literal at position 21 in"):
        compile_filter(text, COLUMNS)


@pytest.mark.parametrize("text", ["statecode eq", "statecode eq 0 and", "(statecode eq 0",
                                  "statecode zz 0", "statecode eq 0)", "eq 0", "statecode eq #"])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(text, COLUMNS)


def test_unknown_column_names_the_property() -> None:
    with pytest.raises(FilterError, match="Could not find a property named 'nope'"):
        compile_filter("nope eq 1", COLUMNS)


def test_orderby_sorts_nulls_first_and_honours_desc() -> None:
    keys = parse_orderby("lastname asc", COLUMNS)
    assert [r[0] for r in sort_records(ROWS, keys)] == ["c", "d", "a", "b"]
    keys = parse_orderby("statecode desc,lastname", COLUMNS)
    assert [r[0] for r in sort_records(ROWS, keys)] == ["b", "c", "d", "a"]
    with pytest.raises(FilterError):
        parse_orderby("lastname sideways", COLUMNS)
