"""Arrow views of canonical columns and integer codes for email keys shared by both sides.

Pairing works on integer codes rather than strings: one dictionary encoding of both sides'
keys turns every "who else holds this key" question into a ``bincount`` or an array lookup.
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
