"""The result of a reconciliation: an immutable value of frames plus the summary (DESIGN §7)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recon.engine.batches import Batches
from recon.engine.keys import DYNAMICS, STRIVACITY, distinct_sorted
from recon.engine.lines import LINES, Line
from recon.engine.pairing import BUCKETS, REASONS, Pairing, Side
from recon.engine.values import problem_counts
from recon.fields import FieldMap
from recon.runfolder import BATCH_NAMES


@dataclass(frozen=True, eq=False, repr=False)
class Reconciliation:
    """What ``reconcile`` found. Frames are sorted so that two runs can be diffed.

    ``matches``, ``duplicates``, ``drift`` and ``review`` have the run-folder columns;
    ``buckets`` has one row per record (side, record_id, bucket, reason), Dynamics then
    Strivacity, each in the order of the frame given, so it lines up with the inputs;
    ``batches`` holds the four batch frames and ``summary`` the summary.json dict;
    ``problems`` lists values that cannot be written (phones that do not parse), per record.
    """

    matches: pd.DataFrame
    duplicates: pd.DataFrame
    drift: pd.DataFrame
    review: pd.DataFrame
    buckets: pd.DataFrame
    batches: Batches
    summary: dict[str, Any]
    problems: pd.DataFrame

    def batch(self, name: str) -> pd.DataFrame:
        """One batch as a flat frame; ``name`` as in ``summary["batches"]``."""
        if name not in LINES:
            raise KeyError(f"{name!r} is not a batch; valid: {', '.join(BATCH_NAMES)}")
        frame: pd.DataFrame = getattr(self.batches, name)
        return frame

    def batch_lines(self, name: str) -> Iterator[Line]:
        """One batch as the JSON objects written to its file, one per line."""
        return LINES[name](self.batch(name))

    def write(self, folder: str | Path) -> Path:
        """Write the run folder (DESIGN §7) into ``folder``; returns its path."""
        from recon.outputs import write_run
        return write_run(self, folder)

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
