"""Contact rows as Web API JSON text, encoded once per record version and ``$select``.

Serialising a 5,000-row page with ``json.dumps`` costs the emulator more than the client spends
reading it, and the emulator shares the machine with the client it is measuring. Records are
immutable tuples replaced on every write, so a row's text is kept next to the tuple it was made
from and reused while that tuple is still the stored one. Whole pages are kept too, by store
version: looking 5,000 rows up and joining them again cost as much as encoding them.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring  # the C version; keeps non-ASCII as is
from typing import Any

Record = tuple[Any, ...]
#: How many distinct ``$select`` lists keep their encoded rows (least recently used dropped).
SELECTS_KEPT = 2
#: Bytes of joined page text kept (least recently used dropped): a 200,000-row tenant's pages.
PAGE_BYTES_KEPT = 256 << 20


def value_text(value: Any) -> str:
    """``value`` as ``json.dumps(value, ensure_ascii=False)`` writes it, fast for common types."""
    if value.__class__ is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value.__class__ is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False)


class RowEncoder:
    """Renders rows as ``{"@odata.etag", the selected columns..., "contactid"}`` JSON text."""

    def __init__(self, index: dict[str, int]) -> None:
        self._index = index
        self._kept: OrderedDict[tuple[str, ...], dict[str, tuple[Record, bytes]]] = \
            OrderedDict()
        self._lock = threading.Lock()

    def encode(self, records: Iterable[Record], select: tuple[str, ...]) -> list[bytes]:
        """The UTF-8 JSON of each record, in order (the same keys and order as ``render``)."""
        with self._lock:
            kept = self._kept.pop(select, None) or {}
            self._kept[select] = kept
            while len(self._kept) > SELECTS_KEPT:
                self._kept.popitem(last=False)
        layout, version_at = self._layout(select), self._index["versionnumber"]
        texts = []
        for record in records:
            hit = kept.get(record[0])
            if hit is None or hit[0] is not record:
                hit = (record, _row_text(record, version_at, layout))
                kept[record[0]] = hit
            texts.append(hit[1])
        return texts

    def _layout(self, select: Sequence[str]) -> list[tuple[str, int]]:
        """(``,"name":`` prefix, column position) for each selected column, then the key."""
        names = [*select, *(["contactid"] if "contactid" not in select else [])]
        return [(f",{encode_basestring(name)}:", self._index[name]) for name in names]


def _row_text(record: Record, version_at: int, layout: list[tuple[str, int]]) -> bytes:
    parts = ['{"@odata.etag":', encode_basestring(f'W/"{record[version_at]}"')]
    for prefix, position in layout:
        parts += (prefix, value_text(record[position]))
    parts.append("}")
    return "".join(parts).encode()


class PageCache:
    """The joined row text of pages served lately, by store version, ``$select`` and ids.

    Every write bumps the store's version, so a page is only reused while no row can have
    changed. The caller reads the version before the rows: a write in between files the new
    text under a version that is already gone, never old text under the current one.
    """

    def __init__(self, limit: int = PAGE_BYTES_KEPT) -> None:
        self._limit = limit
        self._size = 0
        self._pages: OrderedDict[tuple[int, tuple[str, ...], tuple[str, ...]], bytes] = \
            OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: int, select: tuple[str, ...], ids: Sequence[str],
            make: Callable[[], bytes]) -> bytes:
        """The page for ``ids`` at ``version``: kept, or ``make()`` and kept."""
        key = (version, select, tuple(ids))
        with self._lock:
            text = self._pages.get(key)
            if text is not None:
                self._pages.move_to_end(key)
                return text
        text = make()
        with self._lock:
            if key not in self._pages:
                self._pages[key] = text
                self._size += len(text)
            while self._size > self._limit and self._pages:
                self._size -= len(self._pages.popitem(last=False)[1])
        return text
