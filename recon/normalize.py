"""Normalisation of emails, names and phones: vectorised, pure, idempotent.

Each function takes a Series and returns new Series; nothing is modified in place. The common
case (plain ASCII) runs as pyarrow compute kernels; only the rest goes through Python, once
per distinct value.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache, partial
from typing import TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import EmailNotValidError, validate_email

from recon import phones

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
#: A label with ``--`` in third and fourth place is an A-label (``xn--``) or refused by IDNA
#: 2008: either way email-validator must decide.
_HYPHENS34 = r"(@|\.)[a-z0-9][a-z0-9-]--"
_MAX_ADDRESS = 254
_PY_EDGE = "\u00a0\u200b\u200c\u200d\u2060\ufeff"
#: The characters of ``_EDGE`` (RE2's ``\s`` is ``[\t\n\f\r ]``), for the trim kernel.
_EDGE_CHARS = "\t\n\f\r " + _PY_EDGE
#: Text that collapsing runs of ``_EDGE`` to one space would change.
_COLLAPSIBLE = r"[\t\n\f\r\x{00a0}\x{200b}\x{200c}\x{200d}\x{2060}\x{feff}]|  "
_NULL = pa.scalar(None, pa.string())
#: A ``+`` number with single separators between its digit groups, and those separators.
_PHONE_SEPARATORS = r"[ ().-]"
_FORMATTED_PHONE = rf"^\+[0-9]+(?:{_PHONE_SEPARATORS}+[0-9]+)*$"
#: Rows sampled to guess whether values repeat. Among 4096 rows drawn from N distinct values
#: about 4096**2 / 2N repeat; more than 1% repeats means N is under ~200k and worth it.
_SAMPLE = 4096
_REPEATS_PERCENT = 1
Values: TypeAlias = pa.ChunkedArray | pa.Array
Convert: TypeAlias = Callable[[Values], list[Values]]


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values.astype(object).where(values.notna(), None),
                                      type=pa.string())]) if values.dtype != STRING \
        else values.array._pa_array


def _series(array: pa.ChunkedArray | pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=index)


def _spread(arr: pa.ChunkedArray, convert: Convert) -> list[pa.ChunkedArray]:
    """``convert`` each distinct value once and spread the results back over the rows.

    Names, streets and cities repeat a lot; when a sample says values hardly repeat (ids,
    emails) the rows are converted directly. The result is the same either way.
    """
    n = len(arr)
    sample = arr.take(pa.array(range(0, n, max(1, n // _SAMPLE)), pa.int64()))
    repeats = len(sample) - len(sample.unique())
    if n < _SAMPLE or repeats * 100 <= len(sample) * _REPEATS_PERCENT:
        return [_chunked(out) for out in convert(arr)]
    # One hash pass gives the distinct values (null among them) and each row's position;
    # every chunk shares the final dictionary (checked, as pyarrow does not promise it).
    chunks = pc.dictionary_encode(arr, null_encoding="encode").chunks
    if any(not c.dictionary.equals(chunks[-1].dictionary) for c in chunks[:-1]):
        chunks = [pc.dictionary_encode(arr.combine_chunks(), null_encoding="encode")]
    indices = pa.chunked_array([c.indices for c in chunks], chunks[-1].indices.type)
    return [pc.take(out, indices) for out in convert(chunks[-1].dictionary)]


def _chunked(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])


def _patch(values: pa.ChunkedArray | pa.Array, mask: pa.ChunkedArray | pa.Array,
           replacements: pa.Array) -> pa.ChunkedArray | pa.Array:
    """``values`` with the rows where ``mask`` is true replaced, in order, by ``replacements``."""
    return pc.replace_with_mask(values, _plain_mask(mask), replacements)


def _plain_mask(mask: pa.ChunkedArray | pa.Array) -> pa.Array:
    mask = pc.fill_null(mask, False)
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask


def _any(mask: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


def email_key(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return ``(email_key, email_status)`` for raw addresses (DESIGN §5).

    The key is trimmed, unwrapped (``mailto:``, ``<>``), NFC, lower-cased, with the domain in
    ASCII under IDNA 2008 / UTS #46 (as email-validator and mail systems read it) and no
    trailing dot. ``email_status`` is ``ok``, ``missing`` or ``invalid``; the key is NA unless
    the status is ``ok``.
    """
    key, status = _spread(_arrow(values), _email_keys)
    return _series(key, values.index), _series(status, values.index)


def email_address(values: pd.Series) -> pd.Series:
    """The addresses as their sources hold them, made clean: what batches carry, never the key.

    Trimmed (NBSP and zero-width spaces too), unwrapped from ``mailto:`` and ``<>``, NFC, a
    trailing dot dropped; case and Unicode domains kept. Blank becomes NA.
    """
    return _series(_spread(_arrow(values), _addresses)[0], values.index)


def _addresses(arr: Values) -> list[Values]:
    bare = _unwrapped(arr)
    if not pc.all(pc.string_is_ascii(bare)).as_py():
        bare = pc.utf8_normalize(bare, "NFC")
    return [pc.if_else(pc.fill_null(pc.equal(pc.utf8_length(bare), 0), True), _NULL, bare)]


def _unwrapped(arr: Values) -> Values:
    """Edges trimmed, ``mailto:``/``<>`` (either inside the other) and a trailing dot removed."""
    bare = pc.replace_substring_regex(arr, _TRIM, "")
    for _ in range(2):
        bare = pc.replace_substring_regex(bare, _WRAPPER, "")
        bare = pc.replace_substring_regex(bare, _TRIM, "")
    return pc.replace_substring_regex(bare, r"\.$", "")


def _fast_emails(lowered: Values, ascii_: Values) -> Values:
    """True where a plain ASCII address's key is just its lower-case form.

    email-validator agrees on these (a property test holds them together): dot-atom local
    part, LDH labels without ``--`` in third and fourth place (so no
    A-labels to check), an alphabetic TLD that is not special-use, at most 254 characters.
    """
    plain = pc.and_(ascii_, pc.match_substring_regex(lowered, _FAST_EMAIL))
    plain = pc.and_(plain, pc.invert(pc.match_substring_regex(lowered, _SPECIAL_TLD)))
    plain = pc.and_(plain, pc.invert(pc.match_substring_regex(lowered, _HYPHENS34)))
    plain = pc.and_(plain, pc.less_equal(pc.utf8_length(lowered), _MAX_ADDRESS))
    return pc.fill_null(plain, False)


def _email_keys(arr: Values) -> list[Values]:
    """Keys and statuses; a plain lower-case-able ASCII address skips trimming and unwrapping.

    Such an address has nothing to trim or unwrap, so its key is just its lower-case form.
    """
    lowered = pc.utf8_lower(arr)
    plain = _fast_emails(lowered, pc.string_is_ascii(arr))
    key = pc.if_else(plain, lowered, _NULL)
    status = pc.if_else(plain, "ok", "missing")
    rest = pc.and_(pc.invert(plain), pc.is_valid(arr))
    if _any(rest):
        rest_key, rest_status = _email_keys_exact(pc.filter(arr, rest))
        key, status = _patch(key, rest, rest_key), _patch(status, rest, rest_status)
    return [key, status]


def _email_keys_exact(arr: Values) -> tuple[pa.Array, pa.Array]:
    """Keys and statuses of non-null addresses that need trimming, unwrapping or validation."""
    bare = _unwrapped(arr)
    lowered = pc.utf8_lower(bare)
    missing = pc.fill_null(pc.equal(pc.utf8_length(bare), 0), True)
    fast = _fast_emails(lowered, pc.string_is_ascii(arr))
    key = pc.if_else(fast, lowered, _NULL)
    slow = pc.invert(pc.or_(fast, missing))
    if _any(slow):
        raw = pc.filter(arr, slow).to_pylist()
        mapping = {u: _email_key_one(u) for u in set(raw)}
        key = _patch(key, slow, pa.array([mapping[v] for v in raw], pa.string()))
    status = pc.if_else(missing, "missing", pc.if_else(pc.is_valid(key), "ok", "invalid"))
    return _flat(key), _flat(status)


def _flat(values: Values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _clean_one(raw: str) -> str:
    """``email_address`` of one value, in Python (the key's slow path starts from it)."""
    text = unicodedata.normalize("NFC", str(raw)).strip().strip(_PY_EDGE).strip()
    for _ in range(2):
        if text[:7].lower() == "mailto:":
            text = text[7:]
        text = text.removeprefix("<").removesuffix(">").strip().strip(_PY_EDGE).strip()
    return text.rstrip(".")


@lru_cache(maxsize=65536)
def _email_key_one(raw: str) -> str | None:
    """The slow, authoritative path: one address through email-validator, or None.

    email-validator maps the domain under UTS #46 and encodes it with IDNA 2008 (the ``idna``
    package), and applies the length limits; the key is its local part lower-cased and its
    ASCII domain.
    """
    text = _clean_one(raw).lower()
    if not text or text.count("@") != 1:
        return None
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{valid.local_part.lower()}@{valid.ascii_domain.lower()}"


def text(values: pd.Series) -> pd.Series:
    """NFC, trimmed, inner whitespace collapsed, case kept; empty becomes NA."""
    return _series(_spread(_arrow(values), _texts)[0], values.index)


def _texts(arr: Values) -> list[Values]:
    """``text`` over arrow values; kernels that would change nothing are skipped."""
    if not pc.all(pc.string_is_ascii(arr)).as_py():  # ASCII text is already NFC
        arr = pc.utf8_normalize(arr, "NFC")
    arr = pc.utf8_trim(arr, _EDGE_CHARS)
    if _any(pc.match_substring_regex(arr, _COLLAPSIBLE)):
        arr = pc.replace_substring_regex(arr, rf"{_EDGE}+", " ")
    return [pc.if_else(pc.fill_null(pc.equal(pc.utf8_length(arr), 0), True), _NULL, arr)]


def phone(values: pd.Series, region: str | None = None) -> pd.Series:
    """E.164 form of phone numbers; NA for a blank value and for one that cannot be parsed.

    ``region`` (e.g. ``"US"``) reads national numbers; without it only international ones
    parse. A value already in strict E.164 that libphonenumber would keep as it is skips the
    parser (``recon.phones``); everything else goes through libphonenumber.
    """
    return _series(_spread(_arrow(values), partial(_phones, region=region))[0], values.index)


def phone_problems(values: pd.Series, region: str | None = None) -> pd.Series:
    """Why each phone cannot be read (plain words), NA where it is blank or parses."""
    return _series(_spread(_arrow(values), partial(_phones, region=region))[1], values.index)


def _formatted_e164(trimmed: Values, out: Values, fast: Values) -> tuple[Values, Values]:
    """``out`` and ``fast`` extended to ``+``-numbers written with separators (``+1 617 555
    8624``, ``+1 (415) 555-0100``): libphonenumber drops the separators before it reads the
    digits, so one whose digits are strict E.164 reads as those digits (a property test holds
    this to the parser)."""
    spaced = pc.and_(pc.invert(fast),
                     pc.fill_null(pc.match_substring_regex(trimmed, _FORMATTED_PHONE), False))
    if not _any(spaced):
        return out, fast
    compact = pc.replace_substring_regex(pc.filter(trimmed, spaced), _PHONE_SEPARATORS, "")
    strict = pc.fill_null(pc.match_substring_regex(compact, phones.strict_e164()), False)
    readable = pc.if_else(strict, compact, _NULL)
    out = _patch(out, spaced, _flat(readable))
    return out, pc.or_(fast, pc.is_valid(out))


def _phones(arr: Values, region: str | None) -> list[Values]:
    """E.164 numbers and problems over arrow values."""
    trimmed = pc.utf8_trim(arr, _EDGE_CHARS)
    fast = pc.fill_null(pc.match_substring_regex(trimmed, phones.strict_e164()), False)
    empty = pc.fill_null(pc.equal(pc.utf8_length(trimmed), 0), True)
    out = pc.if_else(fast, trimmed, _NULL)
    out, fast = _formatted_e164(trimmed, out, fast)
    problem = pa.nulls(len(arr), pa.string())
    slow = pc.invert(pc.or_(fast, empty))
    if _any(slow):
        raw = pc.filter(arr, slow).to_pylist()
        mapping = {u: phones.parse_one(u, region) for u in set(raw)}
        out = _patch(out, slow, pa.array([mapping[v][0] for v in raw], pa.string()))
        problem = _patch(problem, slow, pa.array([mapping[v][1] for v in raw], pa.string()))
    return [out, problem]
