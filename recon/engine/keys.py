"""Arrow views of canonical columns and integer codes for email keys shared by both sides.

Pairing works on integer codes rather than strings: one dictionary encoding of both sides'
keys turns every "who else holds this key" question into a ``bincount`` or an array lookup.
Record ids of one byte width (GUIDs) sort and look up through numpy integers read straight from
Arrow's buffers (``sort_indices``, ``lookup``): the same answers as Arrow's kernels, faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DYNAMICS = "dynamics"
STRIVACITY = "strivacity"


def strings(values: pd.Series) -> pa.Array:
    """The series as one pyarrow string array (zero-copy for STRING columns)."""
    array = pa.array(values.array, type=pa.string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def series(array: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A pyarrow array back as a pandas series with an ArrowDtype and a RangeIndex."""
    return pd.Series(pd.arrays.ArrowExtensionArray(array))


def take(values: pd.Series, positions: np.ndarray) -> pa.Array:
    """Values at ``positions`` as a pyarrow array (strings stay strings, booleans bools)."""
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_string_dtype(values.dtype):
        return pa.array(values.array[positions])
    return strings(values).take(pa.array(positions))


def _fixed_width(array: pa.Array) -> np.ndarray | None:
    """The strings as a zero-copy numpy ``S<width>`` array when none is null and all have one
    byte length (ids such as GUIDs); None otherwise, for callers to take the general path."""
    if array.type != pa.string() or len(array) == 0 or array.null_count:
        return None
    offsets = np.frombuffer(array.buffers()[1], np.int32, len(array) + 1, array.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width == 0 or int(offsets[-1] - offsets[0]) != width * len(array) \
            or not (np.diff(offsets) == width).all():
        return None
    data = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    return data.view(f"S{width}")


def _words(fixed: np.ndarray) -> np.ndarray:
    """Fixed-width byte strings as rows of big-endian 64-bit words (zero padded), so that
    comparing the rows word by word orders them as the bytes do."""
    width = fixed.dtype.itemsize
    padded = np.zeros((len(fixed), -(-width // 8) * 8), np.uint8)
    padded[:, :width] = fixed.view(np.uint8).reshape(len(fixed), width)
    return padded.view(">u8").astype(np.uint64)


def _word_at(fixed: np.ndarray, start: int, dtype: str) -> np.ndarray:
    """The 8 bytes from ``start`` of each fixed-width string as one integer (no copy of the
    strings: a strided view, which may be unaligned). Needs ``start + 8 <= width``."""
    buffer = np.ascontiguousarray(fixed).view(np.uint8)
    return np.ndarray((len(fixed),), dtype, buffer, start, (fixed.dtype.itemsize,))


def _word_order(fixed: np.ndarray) -> np.ndarray:
    """Stable order of fixed-width strings: by the first 8 bytes, then, only within runs
    sharing them whose strings are not all equal, by all bytes."""
    if fixed.dtype.itemsize < 8:
        first = _words(fixed)[:, 0]
    else:
        first = _word_at(fixed, 0, ">u8").astype(np.uint64)
    order = np.argsort(first, kind="stable")
    at = np.flatnonzero(first[order[1:]] == first[order[:-1]])
    mixed = at[fixed[order[at + 1]] != fixed[order[at]]]
    if len(mixed) == 0:
        return order
    same = np.zeros(len(order) - 1, bool)
    same[at] = True
    run = np.concatenate([[0], np.cumsum(~same)])
    bad = np.zeros(run[-1] + 1, bool)
    bad[run[mixed + 1]] = True
    slots = np.flatnonzero(bad[run])
    held = order[slots]
    order[slots] = held[np.lexsort(_words(fixed[held]).T[::-1])]
    return order


def sort_indices(array: pa.Array) -> np.ndarray:
    """Stable ascending order of a string array, as ``pc.sort_indices`` gives it.

    Fixed-width ids sort as integers on their first 8 bytes, and only the (few) records
    sharing those bytes are sorted again on all of them: several times faster than Arrow.
    """
    fixed = _fixed_width(array)
    if fixed is None:
        return pc.sort_indices(array).to_numpy().astype(np.int64)
    return _word_order(fixed)


def _hashes(fixed: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each fixed-width string (width >= 8), mixing its 8-byte words."""
    width = fixed.dtype.itemsize
    starts = [*range(0, width - 7, 8), *([width - 8] if width % 8 else [])]
    hashed = np.zeros(len(fixed), np.uint64)
    for start in starts:
        hashed ^= _word_at(fixed, start, "<u8")
        hashed *= np.uint64(0x9E3779B97F4A7C15)
        hashed ^= hashed >> np.uint64(29)
    return hashed


def _fixed_lookup(needles: np.ndarray, haystack: np.ndarray) -> np.ndarray | None:
    """``lookup`` through 64-bit hashes of fixed-width strings, each hit checked on the
    strings; None when the haystack's hashes repeat or a hit is a collision."""
    if haystack.dtype.itemsize < 8:
        return None
    index = pd.Index(_hashes(haystack))
    if not index.is_unique:
        return None
    found = index.get_indexer(_hashes(needles)).astype(np.int64)
    hit = found >= 0
    if not (haystack[found[hit]] == needles[hit]).all():
        return None
    return found


def lookup(needles: pa.Array, haystack: pa.Array) -> np.ndarray:
    """Position in ``haystack`` of each needle (the last when repeated), -1 if absent or null."""
    fixed, wanted = _fixed_width(haystack), _fixed_width(needles)
    if fixed is not None and wanted is not None and fixed.dtype == wanted.dtype:
        found = _fixed_lookup(wanted, fixed)
        if found is not None:
            return found
    encoded = pc.dictionary_encode(needles)
    named = pc.index_in(haystack, value_set=encoded.dictionary)
    named = pc.fill_null(named, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    position = np.full(len(encoded.dictionary) + 1, -1, np.int64)  # last slot: null needle
    holders = np.flatnonzero(named >= 0)
    position[named[holders]] = holders
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return position[codes]


def distinct_sorted(values: pd.Series) -> int:
    """Number of distinct values in a sorted column without hashing (count of value changes)."""
    array = strings(values)
    if len(array) == 0:
        return 0
    changes = pc.not_equal(array.slice(1), array.slice(0, len(array) - 1))
    return 1 + int(pc.sum(pc.fill_null(changes, True)).as_py() or 0)


def times(values: pd.Series) -> np.ndarray:
    """A datetime column as UTC ``datetime64[ns]`` (NaT where missing) for comparisons."""
    return values.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT"))


@dataclass(frozen=True)
class KeyCodes:
    """Email keys of both sides as codes into one dictionary, with per-side counts.

    A record without a key has code -1; every per-code array (the counts here, and the lookups
    callers build with ``per_code``) has one extra last slot, so code -1 reads that neutral
    slot instead of needing a mask.
    """

    dictionary: pa.Array
    dynamics: np.ndarray
    strivacity: np.ndarray
    count_dynamics: np.ndarray
    count_strivacity: np.ndarray


def encode_keys(dynamics: pd.Series, strivacity: pd.Series) -> KeyCodes:
    """Dictionary-encode both sides' ``email_key`` together; NA keys get code -1."""
    both = pa.concat_arrays([strings(dynamics), strings(strivacity)])
    encoded = pc.dictionary_encode(both)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    size = len(encoded.dictionary)
    d_codes, s_codes = codes[: len(dynamics)], codes[len(dynamics):]
    return KeyCodes(encoded.dictionary, d_codes, s_codes,
                    np.bincount(d_codes[d_codes >= 0], minlength=size + 1),
                    np.bincount(s_codes[s_codes >= 0], minlength=size + 1))


def per_code(keys: KeyCodes, fill: int | bool) -> np.ndarray:
    """A lookup array indexed by key code, with the extra slot for code -1."""
    dtype = bool if isinstance(fill, bool) else np.int64
    return np.full(len(keys.dictionary) + 1, fill, dtype=dtype)
