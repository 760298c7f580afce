"""Phone numbers through libphonenumber, and the strict E.164 values that may skip it.

libphonenumber takes about 35 µs a number, too slow for millions of rows, so values already in
E.164 that it would return unchanged are recognised by one regular expression built from its
own metadata: a known country calling code, a national number of a length the country allows,
and a first digit that cannot begin the country's national (trunk) prefix. ``+4402079460958``
is E.164-shaped but carries the UK trunk ``0``; it takes the parser, which reads
``+442079460958``. A property test holds the expression to the parser.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata

#: Digits tried after a first digit to see whether a national prefix could start with it.
_TAILS = 64
_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short to be a phone number",
    NumberParseException.TOO_LONG: "too long to be a phone number",
}
NO_REGION = ("a national number (no +country code) and no phone_region is set; add "
             'phone_region = "US" (or the right region) to the fields file')


def _prefix_digits(pattern: str | None) -> set[str]:
    """First digits a national number may have when ``pattern`` (the country's national
    prefix for parsing) could match at its start; all of them when it can match nothing."""
    if not pattern:
        return set()
    prefix = re.compile(pattern)
    if prefix.match(""):
        return set("0123456789")
    rng = random.Random(0)
    found = set()
    for digit in "0123456789":
        tails = ["", *(d * 16 for d in "0123456789"),
                 *("".join(rng.choices("0123456789", k=16)) for _ in range(_TAILS))]
        if any(prefix.match(digit + tail) for tail in tails):
            found.add(digit)
    return found


def _country(code: int) -> str | None:
    """The alternative of ``strict_e164`` for one country calling code, or None."""
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None or metadata.general_desc is None:
        return None
    lengths = sorted(n for n in metadata.general_desc.possible_length or ()
                     if n > 1 and n + len(str(code)) <= 15)
    risky = _prefix_digits(metadata.national_prefix_for_parsing)
    if metadata.national_prefix:
        risky.add(metadata.national_prefix[0])
    first = "".join(d for d in "123456789" if d not in risky)  # a leading 0 always parses
    if not lengths or not first:
        return None
    rest = "|".join(f"[0-9]{{{n - 1}}}" for n in lengths)
    return f"{code}[{first}](?:{rest})"


@lru_cache(maxsize=1)
def strict_e164() -> str:
    """An RE2 expression for E.164 numbers that libphonenumber returns as they are."""
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    parts = [part for code in codes if (part := _country(code)) is not None]
    return rf"^\+(?:{'|'.join(parts)})$"


@lru_cache(maxsize=65536)
def parse_one(raw: str, region: str | None) -> tuple[str | None, str | None]:
    """``(E.164, None)`` for a number libphonenumber reads as possible, else ``(None, why)``."""
    text = raw.strip()
    if not text:
        return None, None
    if region is None and text.startswith("00"):
        text = "+" + text[2:]  # the international prefix of most of the world
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        national = exc.error_type == NumberParseException.INVALID_COUNTRY_CODE \
            and region is None and not text.lstrip("(").startswith(("+", "00"))
        return None, NO_REGION if national else _REASONS.get(exc.error_type, str(exc))
    if not phonenumbers.is_possible_number(number):
        return None, (f"not a possible number for country code +{number.country_code} "
                      "(wrong number of digits)")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # A few junk numbers (+310000000) lose a trunk 0 each time they are read: not a number
    # anyone can be called on, and a key that changes on every pass.
    if _formatted(phonenumbers.parse(e164, None)) != e164:
        return None, "not a real phone number (it reads differently every time)"
    return e164, None


def _formatted(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
