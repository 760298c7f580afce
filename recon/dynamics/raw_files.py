"""Raw Dataverse rows pulled by ``recon pull dynamics``, written whole with their provenance.

The format follows the extension of ``out`` (``RAW_WRITERS``). Parquet keeps the tenant and
time in its schema metadata, the other formats in a ``<out>.source.json`` sidecar
(``recon.provenance``). Files are 0600 and replace the previous file only once complete.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recon.errors import ConfigError
from recon.private import atomic_path
from recon.provenance import Pulled, sidecar_path, stamp_table, write_sidecar


def _write_parquet(raw: pd.DataFrame, path: Path, pulled: Pulled) -> None:
    table = pa.Table.from_pandas(raw, preserve_index=False)
    pq.write_table(stamp_table(table, pulled), path)


def _write_csv(raw: pd.DataFrame, path: Path, pulled: Pulled) -> None:
    raw.to_csv(path, index=False)


def _write_jsonl(raw: pd.DataFrame, path: Path, pulled: Pulled) -> None:
    raw.to_json(path, orient="records", lines=True, force_ascii=False)


#: Raw-row writers by the extension of ``out``; all but Parquet get a ``.source.json`` sidecar.
RAW_WRITERS: dict[str, Callable[[pd.DataFrame, Path, Pulled], None]] = {
    ".parquet": _write_parquet, ".csv": _write_csv, ".jsonl": _write_jsonl,
    ".ndjson": _write_jsonl}


def raw_writer(out: str | Path) -> Callable[[pd.DataFrame, Path, Pulled], None]:
    """The writer for ``out``'s extension; an unknown one is a ``ConfigError`` listing them."""
    suffix = Path(out).suffix.lower()
    if suffix not in RAW_WRITERS:
        raise ConfigError(f"--out {out}: unknown extension {suffix!r}; use "
                          f"{', '.join(RAW_WRITERS)}.")
    return RAW_WRITERS[suffix]


def write_raw(raw: pd.DataFrame, out: str | Path, pulled: Pulled) -> Path:
    """Write raw rows to ``out`` (0600) whole or not at all, recording ``pulled`` with them.

    Parquet keeps the record in its schema metadata, other formats in ``<out>.source.json``.
    A failed write leaves the previous file as it was.
    """
    out, write = Path(out), raw_writer(out)
    with atomic_path(out) as tmp:
        write(raw, tmp, pulled)
    if out.suffix.lower() == ".parquet":
        sidecar_path(out).unlink(missing_ok=True)
    else:
        write_sidecar(out, pulled)
    return out
