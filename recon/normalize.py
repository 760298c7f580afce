"""Normalisation of emails, names and phones: vectorised, pure, idempotent.

Each function takes a Series and returns new Series; nothing is modified in place. The common
case (plain ASCII) runs as pyarrow compute kernels; only the rest goes through Python, once
per distinct value.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email

STRING = pd.ArrowDtype(pa.string())

# Spaces a copy-paste brings along: NBSP, zero-width (ZWSP, ZWNJ, ZWJ, BOM) and the usual.
_EDGE = r"[\s\x{00a0}\x{200b}\x{200c}\x{200d}\x{2060}\x{feff}]"
_TRIM = rf"^{_EDGE}+|{_EDGE}+$"
_WRAPPER = r"^(?i:mailto:)|^<|>$"
# A conservative ASCII address: dot-atom local part, LDH labels, alphabetic TLD.
_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_FAST_EMAIL = rf"^{_LOCAL}@({_LABEL}\.)+[a-z]{{2,63}}$"
# TLDs email-validator treats as special use; they take the slow, authoritative path.
_SPECIAL_TLD = r"\.(arpa|invalid|local|localhost|onion|test)$"
_PY_EDGE = "\u00a0\u200b\u200c\u200d\u2060\ufeff"


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values.astype(object).where(values.notna(), None),
                                      type=pa.string())]) if values.dtype != STRING \
        else values.array._pa_array


def _series(array: pa.ChunkedArray | pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=index)


def email_key(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return ``(email_key, email_status)`` for raw addresses (DESIGN §5).

    The key is trimmed, unwrapped (``mailto:``, ``<>``), NFC, lower-cased, with an ASCII (IDNA)
    domain and no trailing dot. ``email_status`` is ``ok``, ``missing`` or ``invalid``;
    the key is NA unless the status is ``ok``.
    """
    arr = _arrow(values)
    trimmed = pc.replace_substring_regex(arr, _TRIM, "")
    bare = pc.replace_substring_regex(trimmed, _WRAPPER, "")
    bare = pc.replace_substring_regex(bare, _TRIM, "")
    bare = pc.replace_substring_regex(bare, r"\.$", "")
    lowered = pc.utf8_lower(bare)
    missing = pc.fill_null(pc.equal(pc.utf8_length(bare), 0), True)
    fast = pc.and_(pc.string_is_ascii(trimmed), pc.match_substring_regex(lowered, _FAST_EMAIL))
    fast = pc.and_(fast, pc.invert(pc.match_substring_regex(lowered, _SPECIAL_TLD)))
    fast = pc.fill_null(fast, False)
    key = _series(pc.if_else(fast, lowered, pa.scalar(None, pa.string())), values.index)
    status = pd.Series("ok", index=values.index, dtype=STRING)
    slow = ~_series(pc.or_(fast, missing), values.index).astype(bool)
    if slow.any():
        raw = values[slow]
        uniques = raw.astype(object).unique()
        mapping = {u: _email_key_one(u) for u in uniques}
        key[slow] = raw.astype(object).map(lambda v: mapping[v]).astype(STRING)
        status[slow] = key[slow].isna().map({True: "invalid", False: "ok"}).astype(STRING)
    status[_series(missing, values.index).astype(bool)] = "missing"
    return key, status


@lru_cache(maxsize=65536)
def _email_key_one(raw: str) -> str | None:
    """The slow, authoritative path: one address through email-validator, or None."""
    text = unicodedata.normalize("NFC", str(raw)).strip().strip(_PY_EDGE).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    text = text.removeprefix("<").removesuffix(">").strip().strip(_PY_EDGE).strip()
    text = text.lower().rstrip(".")
    if not text or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    candidate = f"{local}@{ascii_domain}"
    try:
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return candidate


def text(values: pd.Series) -> pd.Series:
    """NFC, trimmed, inner whitespace collapsed, case kept; empty becomes NA."""
    arr = _arrow(values)
    arr = pc.utf8_normalize(arr, "NFC")
    arr = pc.replace_substring_regex(arr, _TRIM, "")
    arr = pc.replace_substring_regex(arr, rf"{_EDGE}+", " ")
    arr = pc.if_else(pc.fill_null(pc.equal(pc.utf8_length(arr), 0), True),
                     pa.scalar(None, pa.string()), arr)
    return _series(arr, values.index)


_E164 = r"^\+[1-9][0-9]{6,14}$"
_PHONE_JUNK = r"[\s\x{00a0}().\-/]"


def phone(values: pd.Series, region: str | None = None) -> pd.Series:
    """E.164 form of phone numbers; a value that cannot be parsed is kept as trimmed text.

    ``region`` (e.g. ``"US"``) reads national numbers; without it only international ones parse.
    Numbers already in E.164 skip the parser.
    """
    arr = _arrow(values)
    squeezed = pc.replace_substring_regex(arr, _PHONE_JUNK, "")
    squeezed = pc.replace_substring_regex(squeezed, r"^00", "+")
    fast = pc.fill_null(pc.match_substring_regex(squeezed, _E164), False)
    empty = pc.fill_null(pc.equal(pc.utf8_length(squeezed), 0), True)
    out = _series(pc.if_else(fast, squeezed, pa.scalar(None, pa.string())), values.index)
    slow = ~_series(pc.or_(fast, empty), values.index).astype(bool)
    if slow.any():
        raw = values[slow].astype(object)
        mapping = {u: _phone_one(str(u), region) for u in raw.unique()}
        out[slow] = raw.map(lambda v: mapping[v]).astype(STRING)
    return out


@lru_cache(maxsize=65536)
def _phone_one(raw: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return re.sub(r"\s+", " ", raw.strip())
    if not phonenumbers.is_possible_number(number):
        return re.sub(r"\s+", " ", raw.strip())
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
