"""The result of a reconciliation: an immutable value of frames plus the summary (DESIGN §7)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recon.engine.batches import Batches
from recon.engine.keys import DYNAMICS, STRIVACITY, distinct_sorted
from recon.engine.lines import TEXTS, Line
from recon.engine.pairing import BUCKETS, REASONS, Pairing, Side
from recon.engine.values import problem_counts
from recon.errors import ReconError
from recon.fields import FieldMap
from recon.normalize import STRING
from recon.runfolder import BATCH_NAMES, BATCHES, BATCHES_DIR, TABLES, columns

#: The result frames a run folder holds, by attribute (the people CSVs).
TABLE_FRAMES = tuple(table.attribute for table in TABLES.values())


class Reconciliation:
    """What ``reconcile`` found: an immutable value. Frames are sorted so that two runs can be
    diffed.

    ``matches``, ``duplicates``, ``drift`` and ``review`` have the run-folder columns;
    ``buckets`` has one row per record (side, record_id, bucket, reason), Dynamics then
    Strivacity, each in the order of the frame given, so it lines up with the inputs;
    ``batches`` holds the four batch frames and ``summary`` the summary.json dict;
    ``problems`` lists values that cannot be written (phones that do not parse), per record.

    A result of a whole job (``Reconciliation.of_folder``: ``reconcile_files`` on DuckDB)
    holds only its summary: its tables load from its run folder when first asked for, as the
    folder holds them (values without the spreadsheet guard, blanks as missing), and its
    batch lines are read from the batch files.
    """

    _frames: dict[str, pd.DataFrame]
    _buckets: pd.DataFrame | None
    _batches: Batches | None
    _summary: dict[str, Any]
    _folder: Path | None

    def __init__(self, matches: pd.DataFrame, duplicates: pd.DataFrame, drift: pd.DataFrame,
                 review: pd.DataFrame, buckets: pd.DataFrame, batches: Batches,
                 summary: dict[str, Any], problems: pd.DataFrame) -> None:
        self._hold({"matches": matches, "duplicates": duplicates, "drift": drift,
                    "review": review, "problems": problems}, buckets, batches, summary, None)

    def _hold(self, frames: dict[str, pd.DataFrame], buckets: pd.DataFrame | None,
              batches: Batches | None, summary: dict[str, Any], folder: Path | None) -> None:
        for name, value in (("_frames", frames), ("_buckets", buckets), ("_batches", batches),
                            ("_summary", summary), ("_folder", folder)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a result is a value")

    @classmethod
    def of_folder(cls, folder: str | Path, summary: dict[str, Any]) -> Reconciliation:
        """The result whose run folder ``folder`` holds: its tables load from it lazily."""
        result = cls.__new__(cls)
        result._hold({}, None, None, summary, Path(folder))
        return result

    summary = property(lambda self: self._summary, doc="summary.json's dict.")
    matches = property(lambda self: self._frame("matches"), doc="matches.csv's rows.")
    duplicates = property(lambda self: self._frame("duplicates"), doc="duplicates.csv's rows.")
    drift = property(lambda self: self._frame("drift"), doc="drift.csv's rows.")
    review = property(lambda self: self._frame("review"), doc="review.csv's rows.")
    problems = property(lambda self: self._frame("problems"), doc="problems.csv's rows.")

    @property
    def buckets(self) -> pd.DataFrame:
        """Each record's bucket and reason, in input order (not in a run folder)."""
        if self._buckets is None:
            raise self._not_in_folder("per-record buckets")
        return self._buckets

    @property
    def batches(self) -> Batches:
        """The four batch frames (a run folder holds their lines: ``batch_lines``)."""
        if self._batches is None:
            raise self._not_in_folder("flat batch frames")
        return self._batches

    @property
    def folder(self) -> Path | None:
        """The run folder this result was read from, or None for one held in memory."""
        return self._folder

    def _frame(self, name: str) -> pd.DataFrame:
        if name not in self._frames and self._folder is not None:
            from recon.runfolder import table
            self._frames[name] = read_table(self._folder / table(name)[0], columns(name))
        return self._frames[name]

    def _not_in_folder(self, what: str) -> ReconError:
        return ReconError(f"this result was read from its run folder {self._folder}, which "
                          f"holds no {what}. Reconcile the loaded frames with "
                          "recon.reconcile(dynamics, strivacity) for them, or read the batch "
                          "files (batch_lines).")

    def batch(self, name: str) -> pd.DataFrame:
        """One batch as a flat frame; ``name`` as in ``summary["batches"]``."""
        if name not in BATCH_NAMES:
            raise KeyError(f"{name!r} is not a batch; valid: {', '.join(BATCH_NAMES)}")
        frame: pd.DataFrame = getattr(self.batches, name)
        return frame

    def batch_lines(self, name: str) -> Iterator[Line]:
        """One batch as the JSON objects written to its file, one per line."""
        if name not in BATCH_NAMES:
            raise KeyError(f"{name!r} is not a batch; valid: {', '.join(BATCH_NAMES)}")
        if self._folder is not None:
            path = self._folder / BATCHES_DIR / BATCHES[name].file
            with path.open(encoding="utf-8") as lines:
                yield from (json.loads(line) for line in lines)
            return
        from recon.runwriter import CHUNK, RECORD_KEYS, frame_source, whole_records
        rows = frame_source(self.batch(name))(CHUNK)
        key = RECORD_KEYS.get(name)
        for part in whole_records(rows.chunks, key) if key else rows.chunks:
            yield from (json.loads(text) for text in TEXTS[name](part).to_pylist())

    def write(self, folder: str | Path) -> Path:
        """Write the run folder (DESIGN §7) into ``folder``; returns its path."""
        from recon.runwriter import copy_run_folder, result_sources, write_run_folder
        if self._folder is not None:
            return copy_run_folder(self._folder, folder)
        return write_run_folder(self.summary, result_sources(self), folder)

    def _lines(self) -> list[str]:
        s = self.summary
        sides = [f"{side}: {s[side]['records']:,} records, {s[side]['matched']:,} matched, "
                 f"{s[side]['only']:,} only, {s[side]['review']:,} review, "
                 f"{s[side]['duplicate_groups']:,} duplicate groups"
                 for side in (DYNAMICS, STRIVACITY)]
        pairs, drift = s["pairs"], s["drift"]
        return [*sides,
                f"pairs: {pairs['total']:,} ({pairs['by_link']:,} by link, "
                f"{pairs['by_email']:,} by email); {drift['pairs']:,} with drift",
                "batches: " + ", ".join(f"{k} {v:,}" for k, v in s["batches"].items())]

    def __repr__(self) -> str:
        return "Reconciliation\n  " + "\n  ".join(self._lines())

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self._lines())
        return f"<b>Reconciliation</b><ul>{items}</ul>"


def side_summary(side: Side, frame: pd.DataFrame, duplicate_groups: int) -> dict[str, Any]:
    """The summary block of one side."""
    counts = np.bincount(side.bucket, minlength=len(BUCKETS))
    reasons = np.bincount(side.reason[side.reason >= 0], minlength=len(REASONS))
    return {"records": len(frame), "matched": int(counts[0]), "only": int(counts[1]),
            "review": int(counts[2]), "duplicate_groups": duplicate_groups,
            "invalid_email": int(frame["email_key"].isna().sum()),
            "review_reasons": {r: int(n) for r, n in zip(REASONS, reasons, strict=True)}}


def summarize(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairing: Pairing,
              duplicates: pd.DataFrame, drift: pd.DataFrame, fields: FieldMap,
              batch_counts: dict[str, int], problems: pd.DataFrame) -> dict[str, Any]:
    """summary.json (DESIGN §7); every review reason and mapped field is present, zero or not."""
    groups = duplicates.groupby("side")["email_key"].nunique()
    per_field = drift.groupby("field")["contactid"].nunique()
    by_link = int(pairing.pair_by_link.sum())
    return {
        DYNAMICS: side_summary(pairing.dynamics, dynamics, int(groups.get(DYNAMICS, 0))),
        STRIVACITY: side_summary(pairing.strivacity, strivacity, int(groups.get(STRIVACITY, 0))),
        "pairs": {"total": len(pairing.pair_dynamics), "by_link": by_link,
                  "by_email": len(pairing.pair_dynamics) - by_link},
        "drift": {"pairs": distinct_sorted(drift["contactid"]),
                  "fields": {name: int(per_field.get(name, 0)) for name in fields.names}},
        "batches": {name: int(batch_counts[name]) for name in BATCH_NAMES},
        "problems": problem_counts(problems, fields),
    }


def read_table(path: Path, names: tuple[str, ...]) -> pd.DataFrame:
    """A people CSV of a run folder as a frame: the values without the spreadsheet guard
    (``recon.outputs.read_people_cells``), text as Arrow strings, ``group_size`` as int64."""
    from recon.outputs import read_people_cells
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if tuple(frame.columns) != names:
        raise ReconError(f"{path}: columns {list(frame.columns)}, not the run folder's "
                         f"{list(names)}. Write the run folder again with this recon.")
    out = frame.apply(read_people_cells).astype(STRING)
    if "group_size" in out.columns:
        out["group_size"] = frame["group_size"].astype("int64")
    return out
