"""Normalisation of emails, names and phones (DESIGN §4-§5)."""

from __future__ import annotations

import random
import re

import pandas as pd
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from recon import normalize as normalize_module
from recon import phones
from recon.normalize import STRING, email_address, email_key, phone, phone_problems, text


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


@pytest.mark.parametrize(("one", "other"), [
    ("x@straße.de", "x@strasse.de"),  # IDNA 2008 keeps ß; IDNA 2003 folded it to ss
    ("x@faß.de", "x@fass.de"),
    ("x@βόλος.com", "x@βόλοσ.com"),  # final sigma is kept
    ("x@straße.example", "x@strasse.example"),
])
def test_idna_2008_tells_these_domains_apart(one: str, other: str) -> None:
    key_one, key_other = key_of(one), key_of(other)
    assert key_one[1] == "ok" and key_other[1] == "ok"
    assert key_one[0] != key_other[0]


@pytest.mark.parametrize(("raw", "expected"), [
    ("x@straße.de", "x@xn--strae-oqa.de"),
    ("X@XN--STRAE-OQA.DE", "x@xn--strae-oqa.de"),  # an A-label reads as its U-label does
    ("Anna@Straße.de", "anna@xn--strae-oqa.de"),
    ("x@ＥＸＡＭＰＬＥ.com", "x@example.com"),  # UTS #46 maps full-width letters
])
def test_email_key_idna_2008(raw: str, expected: str) -> None:
    assert key_of(raw) == (expected, "ok")


@pytest.mark.parametrize("raw", [
    "x@" + "a" * 64 + ".com",  # a label over 63
    "x@" + ".".join(["a" * 63] * 4) + ".com",  # address over 254
    "x@ab--cd.com",  # hyphens in third and fourth place (IDNA 2008)
    "x@0---0.com", "x@sub.a---b.com",
    "x@xn--zz.com",  # an A-label that does not decode
    "x@-example.com", "x@example-.com",
])
def test_email_key_refuses_what_email_validator_refuses(raw: str) -> None:
    assert key_of(raw) == (None, "invalid")
    with pytest.raises(EmailNotValidError):
        validate_email(raw, check_deliverability=False)


ascii_part = st.text("abz09-._+'", min_size=1, max_size=70)
ascii_email = st.builds(lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
                        ascii_part, st.lists(st.text("abz09-", min_size=1, max_size=66),
                                             min_size=1, max_size=5),
                        st.sampled_from(["com", "de", "test", "xn--p1ai", "c0m", "io"]))


@settings(max_examples=500, deadline=None)
@given(st.lists(ascii_email, min_size=1, max_size=5))
def test_ascii_fast_path_equals_email_validator(values: list[str]) -> None:
    # The vectorised fast path must give the key the authoritative path gives, or none.
    keys, _ = email_key(pd.Series(values, dtype=object))
    for raw, key in zip(values, keys, strict=True):
        want = normalize_module._email_key_one(raw)
        assert (pd.isna(key) and want is None) or key == want, raw


@pytest.mark.parametrize(("raw", "expected"), [
    ("  Anna@Straße.de ", "Anna@Straße.de"),  # case and the Unicode domain are kept
    ("<mailto:Jo@Example.com>", "Jo@Example.com"),
    ("mailto:<Jo@Example.com>", "Jo@Example.com"),
    ("\u00a0jo@example.com\u200b", "jo@example.com"),
    ("zoe\u0308@example.com", "zoë@example.com"),  # NFC
    ("Jo@Example.com.", "Jo@Example.com"),
    ("JO@XN--STRAE-OQA.DE", "JO@XN--STRAE-OQA.DE"),  # not decoded, not lower-cased
])
def test_email_address_is_the_source_value_cleaned(raw: str, expected: str) -> None:
    assert email_address(pd.Series([raw])).iloc[0] == expected


def test_email_address_blank_is_na() -> None:
    assert email_address(pd.Series(["", None, " \u200b "], dtype=object)).isna().all()


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
    # The UK trunk 0 after the country code: one number, never +4402079460958.
    ("+44 (0)20 7946 0958", None, "+442079460958"),
    ("+4402079460958", None, "+442079460958"),
    ("+44 020 7946 0958", None, "+442079460958"),
    ("+49 (0)30 1234567", None, "+49301234567"),
    ("+390612345678", None, "+390612345678"),  # Italy's leading 0 is part of the number
    ("+39 06 1234 5678", None, "+390612345678"),
    ("+1 (415) 555-0199", None, "+14155550199"),
    ("tel:+1-415-555-0100", None, "+14155550100"),
    ("  +14155550100 ", None, "+14155550100"),
    ("415.555.0100", "US", "+14155550100"),
    ("011 44 20 7946 0958", "US", "+442079460958"),  # the US international prefix
    ("+44 20 7946 0958", "US", "+442079460958"),  # a region never overrides a +code
])
def test_phone(raw: str, region: str | None, expected: str) -> None:
    assert phone(pd.Series([raw]), region).iloc[0] == expected
    assert pd.isna(phone_problems(pd.Series([raw]), region).iloc[0])


@pytest.mark.parametrize(("raw", "region", "why"), [
    ("020 7946 0958", None, "no phone_region"),  # national without a region
    ("(415) 555-0100", None, "no phone_region"),
    ("call me  maybe", None, "not a phone number"),
    ("+999 123 4567", None, "unknown country calling code"),
    ("+89161234567", None, "unknown country calling code"),
    ("+1 415 555", None, "not a possible number for country code +1"),
    ("12", "US", "not a possible number"),
    ("+4412345678901234", None, "not a possible number"),
    ("+310000000", None, "not a real phone number"),  # read again it loses another 0
])
def test_unreadable_phone_is_na_with_a_reason(raw: str, region: str | None, why: str) -> None:
    assert pd.isna(phone(pd.Series([raw]), region).iloc[0])
    assert why in phone_problems(pd.Series([raw]), region).iloc[0]


def test_phone_region_pairs_national_with_international() -> None:
    national, international = pd.Series(["(415) 555-0100"]), pd.Series(["+14155550100"])
    assert phone(national, "US").iloc[0] == phone(international, "US").iloc[0]
    assert pd.isna(phone(national).iloc[0])  # no default region: not guessed


def test_strict_e164_fast_path_agrees_with_libphonenumber() -> None:
    # Every number the fast expression accepts, libphonenumber returns unchanged; a seeded
    # sweep over every country calling code and every length.
    pattern = re.compile(phones.strict_e164())
    rng = random.Random(7)
    accepted = 0
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for length in range(1, 16 - len(str(code))):
            for _ in range(6):
                number = f"+{code}" + "".join(rng.choices("0123456789", k=length))
                if pattern.match(number):
                    accepted += 1
                    assert phones.parse_one(number, None) == (number, None), number
    assert accepted > 1000  # the fast path is not empty


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_e164_values_give_what_libphonenumber_gives(number: str) -> None:
    # The vectorised path (fast or not) equals the parser on E.164-shaped input.
    got = phone(pd.Series([number])).iloc[0]
    want = phones.parse_one(number, None)[0]
    assert (pd.isna(got) and want is None) or got == want


_CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@st.composite
def written_phones(draw: st.DrawFn) -> str:
    """A +number as people write it: digit groups with separators, a trunk (0) now and then,
    stray characters and spaces at the edges."""
    code = str(draw(st.sampled_from(_CALLING_CODES)))
    digits = draw(st.text("0123456789", min_size=1, max_size=15 - len(code)))
    if draw(st.booleans()):
        digits = draw(st.sampled_from(["(0)", "0", "(0) "])) + digits
    out = "+" + code
    for char in digits:
        out += draw(st.sampled_from(["", "", "", " ", "-", ".", "(", ")", " (", ") ", "  ",
                                     "/", "x", "\u00a0"])) + char
    edge = st.sampled_from(["", " ", "\t", "\u00a0", "\u200b", "\u3000"])
    return draw(edge) + out + draw(edge)


@settings(max_examples=500, deadline=None)
@given(st.lists(written_phones(), min_size=1, max_size=6),
       st.sampled_from([None, "US", "GB", "DE", "IT"]))
@example(["+1 617 555 8624", "+44 (0)20 7946 0958", "+39 06 1234 5678"], None)
@example(["+1 (415) 555-0100", "+4402079460958", "+31 0000000"], "US")
def test_written_phones_give_what_libphonenumber_gives(numbers: list[str],
                                                        region: str | None) -> None:
    # The separators fast path (digits that are strict E.164 once the separators go) and the
    # parser agree, number and problem, whatever the region.
    got = phone(pd.Series(numbers), region)
    why = phone_problems(pd.Series(numbers), region)
    for raw, number, problem in zip(numbers, got, why, strict=True):
        want, want_why = phones.parse_one(raw, region)
        assert (None if pd.isna(number) else number) == want, raw
        assert (None if pd.isna(problem) else problem) == want_why, raw


def test_written_phones_skip_the_parser() -> None:
    # The fast path is taken: these never reach libphonenumber.
    phones.parse_one.cache_clear()
    numbers = pd.Series(["+1 617 555 8624", "+1 (415) 555-0100", "+33.1.23.45.67.89"] * 2000)
    assert phone(numbers).tolist()[:3] == ["+16175558624", "+14155550100", "+33123456789"]
    assert phones.parse_one.cache_info().currsize == 0


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
@example(["+310000000"])  # libphonenumber strips a trunk 0 from it on every pass
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
