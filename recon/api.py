"""Whole jobs built from the pieces: what the CLI and notebooks call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recon.dynamics.files import READERS as DYNAMICS_READERS
from recon.dynamics.files import empty_dynamics, read_dynamics
from recon.engine import Reconciliation, reconcile
from recon.errors import InputError
from recon.fields import FieldMap, load_fields
from recon.provenance import Pulled, read_pulled
from recon.readers import file_format, is_blank
from recon.strivacity.files import READERS as STRIVACITY_READERS
from recon.strivacity.files import empty_strivacity, read_strivacity


@dataclass(frozen=True)
class _Side:
    name: str
    noun: str  # what its records are
    readers: Mapping[str, object]
    read: Callable[..., pd.DataFrame]
    empty: Callable[[FieldMap, str], pd.DataFrame]


SIDES = {"dynamics": _Side("Dynamics", "contacts", DYNAMICS_READERS, read_dynamics,
                           empty_dynamics),
         "strivacity": _Side("Strivacity", "accounts", STRIVACITY_READERS, read_strivacity,
                             empty_strivacity)}
LINE_FORMATS = ("jsonl", "ndjson")


def check_records(frame: pd.DataFrame, side: str, where: str,
                  allow_empty: bool = False) -> pd.DataFrame:
    """``frame``, unless it holds no record and ``allow_empty`` is off: then ``InputError``.

    Zero records on one side would batch the whole other side for creation; it is far more
    often a failed export (a header-only CSV) than an empty system.
    """
    if len(frame) or allow_empty:
        return frame
    this, other = SIDES[side], SIDES["strivacity" if side == "dynamics" else "dynamics"]
    raise InputError(f"the {this.name} side holds 0 {this.noun}, so all the {other.noun} would "
                     "be batched for creation", file=where,
                     fix=f"Check the {this.name} export (a header-only or empty export is "
                         "usually a failed one); if the side really is empty, pass "
                         "--allow-empty (allow_empty=True)")


def read_side(side: str, path: str | Path, fields: FieldMap,
              allow_empty: bool = False, format: str | None = None) -> pd.DataFrame:
    """One side's export as its canonical frame; zero records is refused (``check_records``).

    ``format`` overrides the extension (one of the side's ``READERS``).
    """
    this = SIDES[side]
    if file_format(path, format, this.readers, this.name) in LINE_FORMATS and is_blank(path):
        frame = this.empty(fields, str(path))  # an empty JSON-lines file is zero records
    else:
        frame = this.read(path, format=format, fields=fields)
    return check_records(frame, side, str(path), allow_empty)


def read_both(dynamics: str | Path, strivacity: str | Path, fields: FieldMap,
              allow_empty: bool = False,
              formats: Mapping[str, str | None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both exports, read side by side: pyarrow parses one while Python normalises the other.

    ``formats`` maps a side to the format to read its file as, whatever its extension.
    """
    formats = formats or {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-read") as pool:
        accounts = pool.submit(read_side, "strivacity", strivacity, fields, allow_empty,
                               formats.get("strivacity"))
        try:
            contacts = read_side("dynamics", dynamics, fields, allow_empty,
                                 formats.get("dynamics"))
        except BaseException:
            accounts.cancel()
            raise
        return contacts, accounts.result()


def pulled_from(dynamics: str | Path, strivacity: str | Path) -> dict[str, Pulled | None]:
    """What each file records about its pull (``recon pull``), None for a hand export."""
    return {"dynamics": read_pulled(dynamics, "dynamics"),
            "strivacity": read_pulled(strivacity, "strivacity")}


def record_files_source(run_dir: str | Path, pulled: dict[str, Pulled | None],
                        files: Mapping[str, str | Path]) -> Path | None:
    """Write the run's ``source.json`` from the files' provenance; with none, remove any old one.

    An earlier run's ``source.json`` left in the folder must never vouch for this run's data.
    """
    from recon.apply.guards import record_pulled
    from recon.runfolder import SOURCE_FILE
    target = Path(run_dir) / SOURCE_FILE
    if not any(pulled.values()):
        target.unlink(missing_ok=True)
        return None
    return record_pulled(run_dir, pulled, {s: str(Path(f).resolve()) for s, f in files.items()})


@dataclass(frozen=True)
class EngineOptions:
    """Which engine reconciles (``recon.engine.ENGINES``), DuckDB's memory limit and the folder
    it spills to past it, and Spark's master (``local[2]``, ``spark://host:7077``)."""

    name: str = "numpy"
    memory_limit: str | None = None
    temp_dir: str | Path | None = None
    spark_master: str | None = None


def reconcile_files(dynamics: str | Path, strivacity: str | Path, out: str | Path,
                    fields: str | Path | None = None, *, allow_empty: bool = False,
                    formats: Mapping[str, str | None] | None = None,
                    engine: EngineOptions | None = None) -> tuple[Reconciliation, Path]:
    """Load two exports, reconcile them and write the run folder; returns the result and folder.

    Where the files were pulled by ``recon pull``, the tenants and times they record go into
    the run folder's ``source.json`` (for apply's guards). A side with zero records is an
    ``InputError`` unless ``allow_empty``; ``formats`` (side: format) overrides extensions;
    ``engine`` picks the engine and its memory limit (default: today's engine). On DuckDB the
    run folder is streamed out of the engine and the result's frames load from it when first
    asked for (``Reconciliation.of_folder``): a large run holds no result frame.
    """
    field_map = load_fields(fields)
    pulled = pulled_from(dynamics, strivacity)
    engine = engine or EngineOptions()
    if engine.name == "duckdb":  # the whole job in DuckDB: the result's frames stay on disk
        from recon.engine.sql.job import Exports, reconcile_to_folder
        # DuckDB spills beside the run by default: the disk that will hold the run's files.
        spill = engine.temp_dir or Path(out).resolve().parent
        result = reconcile_to_folder(Exports(dynamics, strivacity, allow_empty, formats),
                                     field_map, out, memory_limit=engine.memory_limit,
                                     temp_dir=spill)
        folder = result.folder or Path(out)
    else:
        # The loaded frames are let go once reconciled: writing needs only the result.
        result = reconcile(*read_both(dynamics, strivacity, field_map, allow_empty, formats),
                           field_map, engine=engine.name, memory_limit=engine.memory_limit,
                           temp_dir=engine.temp_dir, spark_master=engine.spark_master)
        folder = result.write(out)
    record_files_source(folder, pulled, {"dynamics": dynamics, "strivacity": strivacity})
    return result, folder
