"""SQL forms of the loaders' conversions (``recon.convert``), for exports DuckDB reads itself.

Each expression here gives exactly what its loader function gives, on the values it accepts:
``blank`` is ``as_string`` (empty is NA), ``trimmed`` is ``utf8_trim_whitespace`` (the same
Unicode whitespace, held to pyarrow by a test), ``guid`` is ``record_ids``/``guids`` on ASCII
text, ``flag`` is ``flags`` on ASCII words and ``stamp_ns`` is ``timestamps`` on the strict
``YYYY-MM-DDThh:mm:ss[.f]Z`` form. What they do not cover (non-ASCII ids or words, other time
forms) is flagged by ``recon.engine.sql.input_checks`` and decided by the loader itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from recon import normalize

#: The code points pyarrow's ``utf8_trim_whitespace`` and ``utf8_is_space`` treat as whitespace.
WHITESPACE = (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
              *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
#: ``WHITESPACE`` as an RE2 character class.
EDGE = "[" + "".join(f"\\x{{{c:x}}}" for c in WHITESPACE) + "]"
#: The strict ISO 8601 form read in SQL: date, time, up to nine fraction digits, ``Z``.
STAMP = r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?Z$"
#: Years read in SQL: well inside what a nanosecond timestamp holds (1677-2262).
YEARS = (1700, 2200)
#: A JSON integer whose digits pyarrow prints back the same (int64, no ``-0``).
PLAIN_INTEGER = r"^(-?[1-9][0-9]{0,14}|0)$"
#: Text that may be a JSON number (a string never starts with ``0`` followed by digits as one).
NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
#: Text that may be a JSON object or array.
CONTAINER = r'^(\{\s*["}]|\[)'


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def macros() -> list[str]:
    """The statements that define the macros the input steps use (temporary, per connection)."""
    chars = literal("".join(chr(c) for c in WHITESPACE))
    year = "TRY_CAST(regexp_extract(x, '^[0-9]{4}') AS INTEGER)"
    day = "TRY_CAST(substr(x, 1, 10) AS DATE)"
    return [
        # trim with a set of characters, and regular expressions, are slow: only values that
        # may have a blank at an edge take them (a first character from ! to the last ASCII
        # one, code points 33-132, is never a blank; others are looked at exactly)
        f"CREATE OR REPLACE TEMP MACRO recon_edge(x) AS ord(x) <= 32 OR ord(x) >= 133 "
        f"OR strpos({chars}, right(x, 1)) > 0",
        "CREATE OR REPLACE TEMP MACRO recon_trim(x) AS CASE WHEN recon_edge(x) "
        f"THEN trim(x, {chars}) ELSE x END",
        "CREATE OR REPLACE TEMP MACRO recon_blank(x) AS CASE WHEN recon_edge(x) "
        f"THEN regexp_matches(x, {literal(f'^{EDGE}+$')}) ELSE FALSE END",
        "CREATE OR REPLACE TEMP MACRO recon_ascii(x) AS strlen(x) = length(x)",
        f"""CREATE OR REPLACE TEMP MACRO recon_fast_email(x) AS
            recon_ascii(x) AND length(x) <= {normalize._MAX_ADDRESS}
            AND regexp_matches(lower(x), {literal(normalize._FAST_EMAIL)})
            AND NOT regexp_matches(lower(x), {literal(normalize._SPECIAL_TLD)})
            AND NOT regexp_matches(lower(x), {literal(normalize._HYPHENS34)})""",
        # the first character (its code point: ord is cheaper than a substring) rules most
        # values out before any regular expression runs
        f"""CREATE OR REPLACE TEMP MACRO recon_json_doubt(x) AS CASE
            WHEN x IS NULL THEN FALSE
            WHEN ord(x) IN ({ord("{")}, {ord("[")}) THEN regexp_matches(x, {literal(CONTAINER)})
            WHEN ord(x) = {ord("-")} OR ord(x) BETWEEN {ord("0")} AND {ord("9")} THEN
                regexp_matches(x, {literal(NUMBER)})
                AND NOT regexp_matches(x, {literal(PLAIN_INTEGER)})
            WHEN ord(x) IN ({ord("N")}, {ord("I")}) THEN x IN ('NaN', 'Infinity')
            ELSE FALSE END""",
        f"""CREATE OR REPLACE TEMP MACRO recon_fast_stamp(x) AS
            COALESCE(regexp_matches(x, {literal(STAMP)})
            AND {year} BETWEEN {YEARS[0]} AND {YEARS[1]}
            AND {day} IS NOT NULL
            AND TRY_CAST(substr(x, 12, 2) AS INTEGER) < 24
            AND TRY_CAST(substr(x, 15, 2) AS INTEGER) < 60
            AND TRY_CAST(substr(x, 18, 2) AS INTEGER) < 60, FALSE)""",
        f"""CREATE OR REPLACE TEMP MACRO recon_stamp_ns(x) AS
            (datediff('day', DATE '1970-01-01', {day}) * 86400
             + TRY_CAST(substr(x, 12, 2) AS BIGINT) * 3600
             + TRY_CAST(substr(x, 15, 2) AS BIGINT) * 60
             + TRY_CAST(substr(x, 18, 2) AS BIGINT)) * 1000000000
            + TRY_CAST(rpad(regexp_extract(x, '\\.([0-9]+)Z$', 1), 9, '0') AS BIGINT)""",
    ]


def blank(value: str) -> str:
    """``as_string``: the empty string is NA."""
    return f"NULLIF({value}, '')"


def trimmed(value: str) -> str:
    return f"recon_trim({value})"


def unblank(value: str) -> str:
    """Whitespace-only text is NA (``strivacity.frame._blank_to_null``); ``value`` is never ''."""
    return f"CASE WHEN recon_blank({value}) THEN NULL ELSE {value} END"


def guid(value: str) -> str:
    """``record_ids(guid=True)`` / ``guids``: trimmed, braces off, lower-cased; empty is NA."""
    return (f"NULLIF(lower(regexp_replace({trimmed(value)}, '^\\{{|\\}}$', '', 'g')), '')")


def flag(value: str, true: Sequence[str], false: Sequence[str]) -> str:
    """``flags`` on text: the words, trimmed and lower-cased; NA stays NA; others are NA too
    (``flag_bad`` finds them)."""
    word = f"lower({trimmed(value)})"
    return (f"CASE WHEN {word} IN ({', '.join(map(literal, true))}) THEN TRUE "
            f"WHEN {word} IN ({', '.join(map(literal, false))}) THEN FALSE END")


def flag_bad(value: str, true: Sequence[str], false: Sequence[str]) -> str:
    """A present value ``flag`` cannot read in SQL: not one of the words, or not ASCII."""
    return (f"({value} IS NOT NULL AND (NOT recon_ascii({trimmed(value)}) "
            f"OR {flag(value, true, false)} IS NULL))")


def coalesce(values: Sequence[str]) -> str:
    if not values:
        return "CAST(NULL AS VARCHAR)"
    return values[0] if len(values) == 1 else f"COALESCE({', '.join(values)})"
