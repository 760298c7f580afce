"""The cheap checks that send an export to its loader: the byte scans (``input_files``) find a
suspect pair of neighbouring bytes wherever it lies, across the scan's block boundaries too, and
``recon_json_doubt`` (``input_sql``) flags exactly the JSON values the loader may read as
something other than their text."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.engine.sql import input_files, input_sql

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


def _doubt(text: str | None) -> bool:
    """``recon_json_doubt`` in Python: JSON containers, numbers other than plain integers."""
    if text is None:
        return False
    if text[:1] in ("{", "["):
        return re.search(input_sql.CONTAINER, text) is not None
    if text[:1] in tuple("-0123456789"):
        return (re.search(input_sql.NUMBER, text) is not None
                and re.search(input_sql.PLAIN_INTEGER, text) is None)
    return text in ("NaN", "Infinity")


JSON_TEXT = st.one_of(
    st.none(), st.text(alphabet='{}[]"-+.eE0123456789 NaIfity:x\u00e9', max_size=8),
    st.sampled_from(["NaN", "Infinity", "-0", "0", "012", "1.5", "-3", "1e5", '{"a": 1}', "{}",
                     "[1]", "{x", "", "N", "I", "Nan", "é", "10000000000000000"]))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(JSON_TEXT, max_size=20))
def test_json_doubt_flags_what_the_loader_may_not_read_as_text(values: list[str | None]) -> None:
    con = duckdb.connect()
    for statement in input_sql.macros():
        con.execute(statement)
    rows = con.execute("SELECT recon_json_doubt(v) FROM (SELECT unnest(?::VARCHAR[]) AS v)",
                       [values]).fetchall()
    assert [row[0] for row in rows] == [_doubt(v) for v in values]


EDGY_TEXT = st.text(alphabet=st.sampled_from(
    [chr(c) for c in input_sql.WHITESPACE] + ["a", "Z", "!", "~", "\x7f", "\x01", "\x84", "é",
                                               "\u200b", "😀"]), max_size=6)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(EDGY_TEXT, min_size=1, max_size=20))
def test_trim_and_blank_are_pyarrows_on_any_edge(values: list[str]) -> None:
    con = duckdb.connect()
    for statement in input_sql.macros():
        con.execute(statement)
    rows = con.execute("SELECT recon_trim(v), recon_blank(v) FROM (SELECT unnest(?::VARCHAR[]) "
                       "AS v)", [values]).fetchall()
    assert [r[0] for r in rows] == pc.utf8_trim_whitespace(pa.array(values)).to_pylist()
    assert [r[1] for r in rows] == [v != "" and all(ord(c) in input_sql.WHITESPACE for c in v)
                                    for v in values]
