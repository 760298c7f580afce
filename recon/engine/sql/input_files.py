"""Exports read by DuckDB's own readers into a table of text, one row per record in file order.

Each reader gives a ``Raw``: the table and, per source column (a Dataverse logical name, or an
account's dotted column), the SQL of its text. A reader returns ``None`` when the file has
anything its loader might read differently from DuckDB (then the loader reads it): a quoted
header, a quote beside a blank (DuckDB trims those, pyarrow keeps them), a comma before ``}``
or ``]`` (DuckDB allows it, the JSON standard does not), Parquet types other than text,
integers and booleans. DuckDB refusing a file is the same: the loader names the problem.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq

from recon.engine.sql.input_sql import ident, literal
from recon.errors import InputError
from recon.readers import BLOCK, BOM, check_file, is_blank

QUOTE, SPACE, TAB, COMMA = ord('"'), ord(" "), ord("\t"), ord(",")
CLOSERS = (ord("}"), ord("]"))
BLANKS = (SPACE, TAB, ord("\r"), ord("\n"))
INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT")
#: Bytes of one JSON record DuckDB's reader takes (its buffers are sized by it); a longer
#: record is refused, and the loader reads the file.
MAX_RECORD = 1 << 20
#: A source column's ways to be spelled as JSON keys, e.g. ``("crm", "dynamicsContactId")`` and
#: ``("crm.dynamicsContactId",)``.
KeyPaths = Callable[[str], list[tuple[str, ...]]]


@dataclass(frozen=True)
class Raw:
    """A side's source columns as DuckDB reads them: ``table``, a query over the file with one
    row per record in file order (DuckDB refusing the file shows when the query runs)."""

    table: str
    values: dict[str, str]  # source column -> SQL of its text
    names: tuple[str, ...] | None  # the file's columns; None for JSON: those with a value
    json: bool = False  # values may be JSON numbers, booleans, objects or arrays as text
    spellings: dict[str, list[str]] = field(default_factory=dict)  # JSON: one SQL per spelling


def _readable(path: str | Path) -> bool:
    try:
        check_file(path)
    except InputError:
        return False
    return not is_blank(path)


def read_csv(con: duckdb.DuckDBPyConnection, path: str | Path,
             wanted: Sequence[str]) -> Raw | None:
    """A CSV export with read_csv (explicit options, all text); ``wanted`` columns only."""
    names = csv_names(path)
    if names is None or _bytes_near(path, _quote_beside_blank):
        return None
    columns = {f"c{i}": "VARCHAR" for i in range(len(names))}
    present = [n for n in dict.fromkeys(wanted) if n in names]
    select = ", ".join(f"c{names.index(n)} AS v{k}" for k, n in enumerate(present)) or "1 AS one"
    spec = "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in columns.items()) + "}"
    reader = (f"read_csv({literal(str(path))}, header = true, columns = {spec}, delim = ',', "
              "quote = '\"', escape = '\"', strict_mode = true, auto_detect = false, "
              "null_padding = false, ignore_errors = false, encoding = 'utf-8')")
    return Raw(f"(SELECT {select} FROM {reader})", {n: f"v{k}" for k, n in enumerate(present)},
               tuple(names))


def csv_names(path: str | Path) -> list[str] | None:
    """The header's column names as the loader takes them, or None when any doubt arises."""
    if not _readable(path):
        return None
    with open(path, "rb") as file:
        first = file.readline().removeprefix(BOM).removesuffix(b"\n")
    if b'"' in first:
        return None
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        return None
    names = [h.strip() for h in next(csv.reader([text.rstrip("\r")]), [])]
    return names if names and len(set(names)) == len(names) else None


def _bytes_near(path: str | Path, test: Callable[[np.ndarray], bool], block: int = BLOCK) -> bool:
    """Whether ``test`` finds a suspect pair of neighbouring bytes anywhere in the file, read
    (mapped, not copied) in blocks that overlap by one byte so no pair falls between two."""
    if os.path.getsize(path) == 0:
        return False
    data = np.memmap(path, np.uint8, mode="r")
    return any(test(data[max(start - 1, 0):start + block]) for start in range(0, len(data), block))


def _quote_beside_blank(block: np.ndarray) -> bool:
    return _next_to(block, block == QUOTE, (SPACE, TAB), before=True, after=True)


def _comma_or_blank_before_closer(block: np.ndarray) -> bool:
    # ``}`` is 0x7D and ``]`` 0x5D: no other byte gives 0x7D once bit 0x20 is set
    return _next_to(block, (block | 0x20) == CLOSERS[0], (COMMA, *BLANKS), before=True,
                    after=False)


def _next_to(block: np.ndarray, anchors: np.ndarray, neighbours: Sequence[int], *,
             before: bool, after: bool) -> bool:
    """Whether a byte of ``neighbours`` comes just before (``before``) or just after
    (``after``) an anchor byte. Only the anchors' neighbours are looked at: anchors (quotes,
    closers) are a small part of an export, so this reads the block about once."""
    at = np.flatnonzero(anchors)
    found = np.zeros(256, np.bool_)
    found[list(neighbours)] = True
    if before and found[block[at[at > 0] - 1]].any():
        return True
    return bool(after and found[block[at[at < len(block) - 1] + 1]].any())


def read_json_lines(con: duckdb.DuckDBPyConnection, path: str | Path,
                    wanted: Sequence[str], key_paths: KeyPaths) -> Raw | None:
    """NDJSON / JSON lines with read_json: each wanted column at every spelling of its keys, as
    text (a number, object or array arrives as its JSON text, which ``input_sides`` checks)."""
    if not _readable(path) or _bytes_near(path, _comma_or_blank_before_closer):
        return None
    tree: dict = {}
    spelled = {name: key_paths(name) for name in dict.fromkeys(wanted)}
    if not all(_insert(tree, keys) for paths in spelled.values() for keys in paths):
        return None  # a key wanted both as a value and as an object
    spec = "{" + ", ".join(f"{literal(k)}: {literal(_type(v))}" for k, v in tree.items()) + "}"
    select, spellings = [], {}
    for k, (name, paths) in enumerate(spelled.items()):
        spellings[name] = [f"v{k}_{j}" for j in range(len(paths))]
        for j, keys in enumerate(paths):
            leaf = ident(keys[0])
            for key in keys[1:]:
                leaf = f"struct_extract({leaf}, {literal(key)})"
            select.append(f"{leaf} AS v{k}_{j}")
    reader = (f"read_json({literal(str(path))}, format = 'newline_delimited', records = true, "
              f"columns = {spec}, maximum_object_size = {MAX_RECORD})")
    return Raw(f"(SELECT {', '.join(select) or '1 AS one'} FROM {reader})",
               {n: _first(v) for n, v in spellings.items()}, None, True, spellings)


def _insert(tree: dict, keys: tuple[str, ...]) -> bool:
    """Add a key path to the tree of struct fields; False where a key is both leaf and object."""
    node = tree
    for key in keys[:-1]:
        if key in node and node[key] is None:
            return False
        node = node.setdefault(key, {})
    if keys[-1] in node and node[keys[-1]] is not None:
        return False
    node[keys[-1]] = None
    return True


def _type(node: dict | None) -> str:
    if node is None:
        return "VARCHAR"
    return "STRUCT(" + ", ".join(f"{ident(k)} {_type(v)}" for k, v in node.items()) + ")"


def _first(columns: list[str]) -> str:
    return columns[0] if len(columns) == 1 else f"COALESCE({', '.join(columns)})"


def read_parquet(con: duckdb.DuckDBPyConnection, path: str | Path,
                 wanted: Sequence[str]) -> Raw | None:
    """A Parquet export with read_parquet; text, integer and boolean columns as their text."""
    if not _readable(path) or _pandas_index(path):
        return None
    source = f"read_parquet({literal(str(path))})"
    try:
        schema = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error:
        return None
    kinds = {str(row[0]): str(row[1]) for row in schema}
    if len(kinds) != len(schema) or any(not _flat(t) for t in kinds.values()):
        return None
    present = [n for n in dict.fromkeys(wanted) if n in kinds]
    texts = [_as_text(ident(n), kinds[n]) for n in present]
    if any(t is None for t in texts):
        return None
    select = ", ".join(f"{t} AS v{k}" for k, t in enumerate(texts)) or "1 AS one"
    return Raw(f"(SELECT {select} FROM {source})", {n: f"v{k}" for k, n in enumerate(present)},
               tuple(kinds))


def _pandas_index(path: str | Path) -> bool:
    """A Parquet file whose pandas metadata makes columns into an index (pandas drops them)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        pandas = json.loads(metadata.get(b"pandas", b"{}"))
    except Exception:  # noqa: BLE001 -- any failure: the loader reads it and says why
        return True
    return any(isinstance(c, str) for c in pandas.get("index_columns", []))


def _flat(kind: str) -> bool:
    return not kind.startswith(("STRUCT", "MAP")) and not kind.endswith("]")


def _as_text(column: str, kind: str) -> str | None:
    if kind == "VARCHAR":
        return column
    if kind in INTEGERS:
        return f"CAST({column} AS VARCHAR)"
    if kind == "BOOLEAN":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    return None


READERS: Mapping[str, str] = {"csv": "csv", "jsonl": "json", "ndjson": "json",
                              "parquet": "parquet"}
