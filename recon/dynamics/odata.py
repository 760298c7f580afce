"""OData query text for the Dataverse Web API: the one literal quoter and small filter builders.

Every string that reaches a ``$filter`` goes through ``quote``; every query string through
``encode_query``. Together they keep a value such as ``x' or emailaddress1 ne 'x`` (or one with
``&``, ``#``, ``+``, ``%``) a single literal that cannot widen a filter or add query options
(reference/dataverse.md §2.7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote as _percent
from urllib.parse import urlencode

from recon.errors import InputError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(value: str) -> str:
    """An OData string literal for ``value``: single-quoted, inner ``'`` doubled.

    Control characters are refused: no stored email or name holds them, and Dataverse answers
    them with an opaque 400. Percent-encoding is ``encode_query``'s job, not this function's.
    """
    if not isinstance(value, str):
        raise TypeError(f"OData string literal must be str, not {type(value).__name__}")
    if _CONTROL.search(value):
        raise InputError(f"value {value!r} contains a control character",
                         fix="Remove line breaks and tabs from the value and try again.")
    return "'" + value.replace("'", "''") + "'"


def name(column: str) -> str:
    """A column (logical) name, checked so a field map cannot smuggle filter text in."""
    if not _NAME.match(column):
        raise InputError(f"{column!r} is not a Dataverse column name",
                         fix="Use the column's logical name (letters, digits, underscores).")
    return column


def datetime_literal(moment: datetime) -> str:
    """An unquoted OData DateTimeOffset literal in UTC, e.g. ``2024-03-01T10:00:00Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace(".000000", "").replace("+00:00", "Z")


def eq(column: str, value: str) -> str:
    """``column eq 'value'``: exact, case-insensitive, no wildcards (unlike contains)."""
    return f"{name(column)} eq {quote(value)}"


def ge(column: str, moment: datetime) -> str:
    return f"{name(column)} ge {datetime_literal(moment)}"


def lt(column: str, moment: datetime) -> str:
    return f"{name(column)} lt {datetime_literal(moment)}"


def is_null(column: str) -> str:
    return f"{name(column)} eq null"


def all_of(clauses: Iterable[str]) -> str:
    """Clauses joined with ``and``, each parenthesised so precedence cannot leak."""
    parts = [c for c in clauses if c]
    return " and ".join(f"({c})" for c in parts) if len(parts) > 1 else "".join(parts)


def any_of(clauses: Iterable[str]) -> str:
    """Clauses joined with ``or``, each parenthesised so precedence cannot leak."""
    parts = [c for c in clauses if c]
    return " or ".join(f"({c})" for c in parts) if len(parts) > 1 else "".join(parts)


def select(columns: Iterable[str]) -> str:
    """A ``$select`` value: checked names, first occurrence kept, order kept."""
    return ",".join(dict.fromkeys(name(c) for c in columns))


def encode_query(params: Mapping[str, str]) -> str:
    """A query string with every reserved character percent-encoded.

    Spaces become ``%20`` (never ``+``, which a server may read as a space or as a plus) and
    ``+ & # % = ;`` inside literals are escaped; ``$`` and ``,`` stay readable.
    """
    return urlencode(dict(params), quote_via=_percent, safe="$,")
