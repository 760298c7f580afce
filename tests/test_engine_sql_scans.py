"""The byte scans that send an export to its loader (``input_files``): a suspect pair of
neighbouring bytes is found wherever it lies, including across the scan's block boundaries."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.engine.sql import input_files

#: The pairs each scan looks for, as regular expressions over the whole file.
SUSPECT: dict[str, tuple[Callable[[np.ndarray], bool], bytes]] = {
    "quote beside blank": (input_files._quote_beside_blank, rb'[ \t]"|"[ \t]'),
    "comma or blank before closer": (input_files._comma_or_blank_before_closer,
                                     rb"[, \t\r\n][}\]]"),
}
#: Bytes the pairs are made of, and a few that are not (``|`` sets bit 0x20 of ``]``).
ALPHABET = b' \t\r\n",}]{[:a=]m'


@settings(max_examples=300, deadline=None)
@given(content=st.binary(min_size=0, max_size=24).map(
    lambda raw: bytes(ALPHABET[b % len(ALPHABET)] for b in raw)),
       block=st.integers(min_value=1, max_value=8))
def test_a_scan_finds_a_pair_exactly_when_the_file_holds_one(content: bytes, block: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export"
        path.write_bytes(content)
        for name, (test, pattern) in SUSPECT.items():
            expected = re.search(pattern, content) is not None
            assert input_files._bytes_near(path, test, block=block) is expected, (name, content)


def test_a_pair_split_by_every_block_boundary_is_found(tmp_path: Path) -> None:
    path = tmp_path / "accounts.ndjson"
    path.write_bytes(b'{"id": "a", "enabled": true,}\n')
    for block in range(1, 12):
        assert input_files._bytes_near(path, input_files._comma_or_blank_before_closer,
                                       block=block), block


def test_an_empty_file_holds_no_pair(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    for test, _ in SUSPECT.values():
        assert not input_files._bytes_near(tmp_path / "empty.csv", test)
