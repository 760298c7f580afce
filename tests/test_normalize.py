"""Normalisation of emails, names and phones (DESIGN §4-§5)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.normalize import STRING, email_key, phone, text


def key_of(raw: object) -> tuple[object, str]:
    key, status = email_key(pd.Series([raw], dtype=object))
    return (None if pd.isna(key.iloc[0]) else key.iloc[0]), status.iloc[0]


@pytest.mark.parametrize(("raw", "expected"), [
    ("jo@example.com", "jo@example.com"),
    ("  Jo@Example.COM\t", "jo@example.com"),
    ("\u00a0jo@example.com\u200b", "jo@example.com"),
    ("\ufeffjo@example.com\u2060", "jo@example.com"),
    ("mailto:jo@example.com", "jo@example.com"),
    ("MAILTO:Jo@example.com", "jo@example.com"),
    ("<jo@example.com>", "jo@example.com"),
    ("jo@example.com.", "jo@example.com"),
    ("jo@bücher.de", "jo@xn--bcher-kva.de"),
    ("JO@BÜCHER.DE", "jo@xn--bcher-kva.de"),
    ("jo@bu\u0308cher.de", "jo@xn--bcher-kva.de"),  # NFD domain
    ("first.last+tag@gmail.com", "first.last+tag@gmail.com"),  # never provider-folded
    ("o'brien@example.ie", "o'brien@example.ie"),
])
def test_email_key_ok(raw: str, expected: str) -> None:
    assert key_of(raw) == (expected, "ok")


def test_gmail_dots_and_tags_are_not_folded() -> None:
    keys, _ = email_key(pd.Series(["firstlast@gmail.com", "first.last@gmail.com",
                                   "firstlast+x@gmail.com"]))
    assert keys.nunique() == 3


def test_unicode_local_part_nfc_equals_nfd() -> None:
    nfc, _ = key_of("zoë@example.com")
    nfd, _ = key_of("zoe\u0308@example.com")
    assert nfc == nfd and nfc is not None


@pytest.mark.parametrize("raw", ["not-an-email", "a@b", "a@@b.com", "a b@c.com", "@example.com",
                                 "jo@", "jo@exa_mple.com", "jo@example.invalid"])
def test_email_key_invalid(raw: str) -> None:
    assert key_of(raw) == (None, "invalid")


@pytest.mark.parametrize("raw", [None, "", "   ", "\u00a0", "mailto:", "<>"])
def test_email_key_missing(raw: object) -> None:
    assert key_of(raw) == (None, "missing")


def test_email_key_keeps_index_and_input() -> None:
    values = pd.Series(["A@X.COM", None], index=[5, 9], dtype=STRING)
    before = values.copy()
    key, status = email_key(values)
    assert list(key.index) == [5, 9] and key.dtype == STRING and status.dtype == STRING
    pd.testing.assert_series_equal(values, before)


def test_text_trims_collapses_and_keeps_case() -> None:
    out = text(pd.Series(["  Mary\u00a0 Ann  ", "", None, "\u200bO'Brien", "van  der\tBerg"]))
    assert out.tolist()[0] == "Mary Ann"
    assert out.isna().tolist() == [False, True, True, False, False]
    assert out.iloc[3] == "O'Brien" and out.iloc[4] == "van der Berg"


def test_text_nfc_and_nfd_are_equal() -> None:
    out = text(pd.Series(["Zoë", "Zoe\u0308"]))
    assert out.iloc[0] == out.iloc[1]


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("+1 (415) 555-0100", None, "+14155550100"),
    ("+44 20 7946 0958", None, "+442079460958"),
    ("0044 20 7946 0958", None, "+442079460958"),
    ("+33.1.23.45.67.89", None, "+33123456789"),
    ("(415) 555-0100", "US", "+14155550100"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("020 7946 0958", None, "020 7946 0958"),  # national without a region: kept as text
    ("call me  maybe", None, "call me maybe"),
])
def test_phone(raw: str, region: str | None, expected: str) -> None:
    assert phone(pd.Series([raw]), region).iloc[0] == expected


def test_phone_missing_is_na() -> None:
    assert phone(pd.Series(["", None, "  "])).isna().all()


printable = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
emailish = st.builds(lambda a, b, c: f"{a}@{b}.{c}",
                     st.text("abcXYZ.+_-ë0\u00a0 ", min_size=0, max_size=10),
                     st.text("abcdüé-.", min_size=0, max_size=10),
                     st.sampled_from(["com", "de", ""]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(printable, emailish), max_size=8))
def test_email_key_is_idempotent(values: list[str]) -> None:
    key, status = email_key(pd.Series(values, dtype=object))
    again, status2 = email_key(key)
    ok = status == "ok"
    assert (again[ok] == key[ok]).all()
    assert (status2[ok] == "ok").all()


@settings(max_examples=200, deadline=None)
@given(st.lists(printable, max_size=8))
def test_text_is_idempotent(values: list[str]) -> None:
    once = text(pd.Series(values, dtype=object))
    pd.testing.assert_series_equal(text(once), once)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(printable, st.from_regex(r"\+?[0-9 ().-]{0,18}", fullmatch=True)),
                max_size=8))
def test_phone_is_idempotent(values: list[str]) -> None:
    once = phone(pd.Series(values, dtype=object))
    pd.testing.assert_series_equal(phone(once), once)


@pytest.mark.parametrize("raw", ["\x0b", "\u3000", " \x0b\u2028 "])
def test_phone_of_other_whitespace_is_na(raw: str) -> None:
    # Whitespace outside the fast path's set once came back as "" rather than NA.
    assert phone(pd.Series([raw], dtype=object)).isna().all()


MESSY = ["  Mary\u00a0 Ann ", "Zoe\u0308", "", None, "van  der\tBerg", "O'Brien", "\u200b",
         " Jo@Example.COM ", "mailto:<al@bücher.de>", "bad@", "+1 (415) 555-0100", "020 7946"]


def test_repeated_values_are_converted_once_with_the_same_result() -> None:
    # 12 distinct values over 12,000 rows take the distinct-values path; a short series of
    # the same values is converted row by row. Both must agree, index and all.
    many = pd.Series(MESSY * 1000, index=range(7, 12_007), dtype=object)
    few = pd.Series(MESSY, dtype=object)
    for convert in (text, phone, lambda s: email_key(s)[0], lambda s: email_key(s)[1]):
        out = convert(many)
        assert list(out.index) == list(many.index) and out.dtype == STRING
        expected = convert(few).tolist() * 1000
        assert [None if pd.isna(v) else v for v in out] == \
            [None if pd.isna(v) else v for v in expected]


def test_distinct_emails_take_the_row_by_row_path() -> None:
    values = pd.Series([f"User{i}@Example.com" for i in range(10_000)] + [" x@y.io ", "bad"])
    key, status = email_key(values)
    assert key.iloc[0] == "user0@example.com" and key.iloc[-2] == "x@y.io"
    assert status.tolist()[-3:] == ["ok", "ok", "invalid"]
