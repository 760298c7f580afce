"""One quoting function keeps every value a single OData literal."""

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from recon.dynamics import odata
from recon.errors import InputError


@pytest.mark.parametrize(("value", "literal"), [
    ("jo@x.com", "'jo@x.com'"),
    ("o'bryan@x.com", "'o''bryan@x.com'"),
    ("''", "''''''"),
    ("x' or emailaddress1 ne 'x", "'x'' or emailaddress1 ne ''x'"),
    ("jo+news@x.com", "'jo+news@x.com'"),
    ("100%_real@x.com", "'100%_real@x.com'"),
    ("zoë@exämple.de", "'zoë@exämple.de'"),
    ("", "''"),
])
def test_quote_wraps_and_doubles_single_quotes(value: str, literal: str) -> None:
    assert odata.quote(value) == literal


@pytest.mark.parametrize("value", ["a\nb", "tab\there", "nul\x00", "del\x7f"])
def test_quote_refuses_control_characters(value: str) -> None:
    with pytest.raises(InputError, match="control character"):
        odata.quote(value)


def test_quote_refuses_non_strings() -> None:
    with pytest.raises(TypeError):
        odata.quote(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("column", ["emailaddress1 or 1", "a'b", "", "x)", "$top"])
def test_column_names_are_checked(column: str) -> None:
    with pytest.raises(InputError):
        odata.eq(column, "x")


@pytest.mark.parametrize("value", ["o'b+x@y.com", "a&$top=1#@x.com", "50%@x.com", "zoë @x",
                                   "x' or 1 eq 1 or 'a"])
def test_encoded_filter_round_trips_to_exactly_one_literal(value: str) -> None:
    query = odata.encode_query({"$select": "contactid", "$filter": odata.eq("emailaddress1",
                                                                          value)})
    assert "+" not in query and " " not in query and "#" not in query
    assert query.count("&") == 1, "only the separator between the two options"
    decoded = parse_qs(query, keep_blank_values=True)
    assert decoded == {"$select": ["contactid"],
                       "$filter": [f"emailaddress1 eq '{value.replace(chr(39), chr(39) * 2)}'"]}


def test_datetime_literal_is_utc_and_unquoted() -> None:
    assert odata.datetime_literal(datetime(2024, 3, 1, 10, tzinfo=UTC)) == "2024-03-01T10:00:00Z"
    cet = timezone(timedelta(hours=1))
    assert odata.datetime_literal(datetime(2024, 3, 1, 11, 0, 0, 5, tzinfo=cet)) == \
        "2024-03-01T10:00:00.000005Z"
    assert odata.datetime_literal(datetime(2024, 3, 1)) == "2024-03-01T00:00:00Z"


def test_builders_compose_with_parentheses() -> None:
    low, high = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    assert odata.all_of([odata.ge("createdon", low), odata.lt("createdon", high)]) == \
        "(createdon ge 2024-01-01T00:00:00Z) and (createdon lt 2024-02-01T00:00:00Z)"
    assert odata.all_of(["a eq 1"]) == "a eq 1"
    assert odata.is_null("createdon") == "createdon eq null"
    assert odata.select(["contactid", "firstname", "contactid"]) == "contactid,firstname"
