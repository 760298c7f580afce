"""The fast paths of ``recon.engine.keys`` give exactly what Arrow's own kernels give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from recon.engine.keys import lookup, sort_indices

# Fixed-width ids sharing their first 8 bytes, repeats, bytes above 0x7f, widths under 8
_IDS = st.sampled_from(["aaaaaaaa-0001", "aaaaaaaa-0000", "aaaaaaab-0000", "zzzzzzzz-9999",
                        "aaaaaaaa-0\u00e91", "00000000-0000"])
_SHORT = st.sampled_from(["c1", "c2", "b9", "c1"])
_ANY = st.one_of(st.none(), st.text(max_size=10))


@given(st.lists(_IDS, max_size=40))
def test_sort_of_fixed_width_ids_is_arrows_stable_sort(values: list[str]) -> None:
    array = pa.array(values, pa.string())
    assert sort_indices(array).tolist() == pc.sort_indices(array).to_pylist()


@given(st.lists(st.one_of(_SHORT, _ANY), max_size=30))
def test_sort_of_any_strings_is_arrows_stable_sort(values: list[str | None]) -> None:
    array = pa.array(values, pa.string())
    assert sort_indices(array).tolist() == pc.sort_indices(array).to_pylist()


def _expected(needles: list[str | None], haystack: list[str | None]) -> list[int]:
    last = {value: at for at, value in enumerate(haystack) if value is not None}
    return [last.get(n, -1) if n is not None else -1 for n in needles]


@given(st.lists(_IDS, max_size=20), st.lists(_IDS, unique=True, max_size=6))
def test_lookup_of_fixed_width_ids(needles: list[str], haystack: list[str]) -> None:
    found = lookup(pa.array(needles, pa.string()), pa.array(haystack, pa.string()))
    assert found.tolist() == _expected(needles, haystack)


@given(st.lists(st.one_of(_IDS, _SHORT, _ANY), max_size=20),
       st.lists(st.one_of(_IDS, _SHORT, _ANY), max_size=8))
def test_lookup_of_any_strings_names_the_last_holder(needles: list[str | None],
                                                     haystack: list[str | None]) -> None:
    found = lookup(pa.array(needles, pa.string()), pa.array(haystack, pa.string()))
    assert found.tolist() == _expected(needles, haystack)


def test_lookup_on_a_sliced_array_reads_the_right_bytes() -> None:
    ids = [f"{i:08d}-id" for i in range(50)]
    haystack = pa.array(ids, pa.string()).slice(10, 20)
    found = lookup(pa.array([ids[15], ids[5], ids[29]], pa.string()), haystack)
    assert found.tolist() == [5, -1, 19]
    assert isinstance(found, np.ndarray)
    backwards = pa.array(ids[::-1], pa.string()).slice(10, 20)
    assert sort_indices(backwards).tolist() == list(range(19, -1, -1))
