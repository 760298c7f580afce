"""The OData ``$filter`` and ``$orderby`` subset Dataverse queries use, compiled to predicates.

A filter is parsed once per query into a closure over a row tuple, so paging 200,000 rows never
re-parses text. Strings compare case-insensitively, as Dataverse does. Grammar:
``or``/``and``/``not``, parentheses, ``eq ne gt ge lt le``, ``contains/startswith/endswith``,
literals: ``'text'`` (``''`` is a quote), numbers, ``null``, ``true``/``false``, GUIDs, datetimes.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Record = Sequence[Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<punct>[(),])
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge,
            "lt": operator.lt, "le": operator.le}
#: Case-insensitive, as Dataverse's default collation makes them (like ``eq``).
_FUNCTIONS = {"contains": lambda a, b: _fold(b) in _fold(a),
              "startswith": lambda a, b: _fold(a).startswith(_fold(b)),
              "endswith": lambda a, b: _fold(a).endswith(_fold(b))}
_KEYWORDS = frozenset({"and", "or", "not", "null", "true", "false", *_COMPARE, *_FUNCTIONS})


class FilterError(ValueError):
    """The query text is not valid; the message is the one Dataverse would give."""


@dataclass(frozen=True)
class Token:
    kind: str  # punct, string, guid, datetime, number, name
    text: str
    value: Any
    pos: int


def _string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted literal starting at ``start``; doubled quotes are one quote."""
    chars, i = [], start + 1
    while i < len(text):
        if text[i] == "'":
            if text.startswith("''", i):
                chars.append("'")
                i += 2
                continue
            return "".join(chars), i + 1
        chars.append(text[i])
        i += 1
    raise FilterError(f"There is an unterminated literal at position {len(text)} in '{text}'.")


def tokenize(text: str) -> list[Token]:
    """Split filter text into tokens, failing like Dataverse on bad or unterminated literals."""
    tokens, i = [], 0
    while i < len(text):
        if text[i] == "'":
            value, end = _string(text, i)
            tokens.append(Token("string", text[i:end], value, i))
            i = end
            continue
        match = _TOKEN.match(text, i)
        if match is None:
            raise FilterError(f"Syntax error: character '{text[i]}' is not valid at position {i}"
                              f" in '{text}'.")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), _literal(kind, match.group()), i))
        i = match.end()
    return tokens


def _literal(kind: str, text: str) -> Any:
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "datetime":
        return parse_datetime(text)
    return text.lower() if kind == "guid" else text


def parse_datetime(text: str) -> dt.datetime:
    """An ISO datetime (or date) as an aware UTC datetime; naive values are taken as UTC."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# Range filters (``--streams``) compare every stored createdon once per stream: parse each once.
_parse_cached = functools.lru_cache(maxsize=1 << 20)(parse_datetime)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _as_datetime(value: Any) -> Any:
    return _parse_cached(value) if isinstance(value, str) else value


class _Parser:
    """Recursive descent over tokens, producing closures over row tuples."""

    def __init__(self, text: str, columns: dict[str, int], entity: str) -> None:
        self.text, self.columns, self.entity = text, columns, entity
        self.tokens = tokenize(text)
        self.i = 0

    def fail(self, token: Token | None = None) -> FilterError:
        pos = token.pos if token else len(self.text)
        return FilterError(f"Syntax error at position {pos} in '{self.text}'.")

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or (text is not None and token.text.lower() != text):
            raise self.fail(token)
        self.i += 1
        return token

    def accept(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise self.fail(self.peek())
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.accept("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else _any_of(parts)

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.accept("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _all_of(parts)

    def unary(self) -> Predicate:
        if self.accept("not"):
            inner = self.unary()
            return lambda r: not inner(r)
        token = self.peek()
        if token is not None and token.text == "(":
            self.take("(")
            inner = self.or_expr()
            self.take(")")
            return inner
        if token is not None and token.kind == "name" and token.text.lower() in _FUNCTIONS:
            return self.function()
        return self.comparison()

    def function(self) -> Predicate:
        test = _FUNCTIONS[self.take().text.lower()]
        self.take("(")
        left, _ = self.operand()
        self.take(",")
        right, _ = self.operand()
        self.take(")")

        def predicate(r: Record) -> bool:
            a, b = left(r), right(r)
            return isinstance(a, str) and isinstance(b, str) and test(a.casefold(), b.casefold())

        return predicate

    def operand(self) -> tuple[Getter, str]:
        """A column getter or a constant, with its kind (column, string, number, datetime...)."""
        token = self.take()
        if token.kind == "name" and token.text.lower() not in _KEYWORDS:
            if token.text not in self.columns:
                raise FilterError(f"Could not find a property named '{token.text}' on type "
                                  f"'Microsoft.Dynamics.CRM.{self.entity}'.")
            return operator.itemgetter(self.columns[token.text]), "column"
        if token.kind == "name":
            word = token.text.lower()
            if word not in ("null", "true", "false"):
                raise self.fail(token)
            constant: Any = None if word == "null" else word == "true"
            return (lambda r: constant), "literal"
        if token.kind in ("string", "guid", "number", "datetime"):
            value = token.value
            return (lambda r: value), token.kind
        raise self.fail(token)

    def comparison(self) -> Predicate:
        left, left_kind = self.operand()
        op_token = self.take()
        compare = _COMPARE.get(op_token.text.lower())
        if compare is None or op_token.kind != "name":
            raise self.fail(op_token)
        right, right_kind = self.operand()
        coerce = _as_datetime if "datetime" in (left_kind, right_kind) else _fold
        if left_kind == "column" and right_kind != "column":
            return _against_constant(left, compare, coerce, right(()))
        is_eq, is_ne = compare is operator.eq, compare is operator.ne

        def predicate(r: Record) -> bool:
            a, b = left(r), right(r)
            if a is None or b is None:
                return (a is b) if is_eq else (a is not b) if is_ne else False
            try:
                return bool(compare(coerce(a), coerce(b)))
            except (TypeError, ValueError):
                return is_ne
        return predicate


def _against_constant(column: Getter, compare: Callable[[Any, Any], Any],
                      coerce: Callable[[Any], Any], constant: Any) -> Predicate:
    """``column op constant``, the common case: the constant is coerced once, not per row."""
    is_eq, is_ne = compare is operator.eq, compare is operator.ne
    try:
        b = coerce(constant)
    except (TypeError, ValueError):
        return lambda r: is_ne
    if b is None:
        return (lambda r: column(r) is None) if is_eq else \
            (lambda r: column(r) is not None) if is_ne else (lambda r: False)

    def predicate(r: Record) -> bool:
        a = column(r)
        if a is None:
            return is_ne
        try:
            return bool(compare(coerce(a), b))
        except (TypeError, ValueError):
            return is_ne
    return predicate


def _all_of(parts: list[Predicate]) -> Predicate:
    if len(parts) == 2:
        first, second = parts
        return lambda r: first(r) and second(r)
    return lambda r: all(p(r) for p in parts)


def _any_of(parts: list[Predicate]) -> Predicate:
    if len(parts) == 2:
        first, second = parts
        return lambda r: first(r) or second(r)
    return lambda r: any(p(r) for p in parts)


def compile_filter(text: str, columns: dict[str, int], entity: str = "contact") -> Predicate:
    """Compile ``$filter`` text into a predicate over row tuples indexed by ``columns``."""
    return _Parser(text, columns, entity).parse()


def parse_orderby(text: str, columns: dict[str, int],
                  entity: str = "contact") -> list[tuple[int, bool]]:
    """``$orderby`` text as ``[(column index, descending), ...]``."""
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, direction = item.partition(" ")
        direction = direction.strip().lower() or "asc"
        if name not in columns or direction not in ("asc", "desc"):
            raise FilterError(f"Could not find a property named '{name}' on type "
                              f"'Microsoft.Dynamics.CRM.{entity}'." if name not in columns
                              else f"Syntax error at position {len(name) + 1} in '{item}'.")
        keys.append((columns[name], direction == "desc"))
    return keys


def _sort_key(index: int) -> Callable[[Record], tuple[bool, Any]]:
    return lambda record: (record[index] is not None, _fold(record[index]))


def sort_records(records: Sequence[Record], keys: list[tuple[int, bool]],
                 top: int | None = None) -> list[Record]:
    """Sort rows by ``keys``; nulls first ascending and last descending, like SQL Server.

    With ``top`` and one key, only the first ``top`` rows are selected (a heap, not a sort).
    """
    if top is not None and len(keys) == 1:
        index, descending = keys[0]
        pick = heapq.nlargest if descending else heapq.nsmallest
        return pick(max(0, top), records, key=_sort_key(index))
    ordered = list(records)
    for index, descending in reversed(keys):
        ordered.sort(key=_sort_key(index), reverse=descending)
    return ordered
