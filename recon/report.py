"""What the notebooks show: figures, charts, history and look-ups over a run folder (DESIGN §7).

Notebook cells call these and display what they return; nothing here prints. A run is always
read back from its folder (the contract), so a notebook shows exactly what scheduled jobs and
users get, whether the run was just made or made last week.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from recon.errors import ConfigError

# The person look-up and the drift filter live in recon.explore; notebooks call them from here.
from recon.explore import Lookup, drift_for, export_csv, find_person  # noqa: F401
from recon.fields import DYNAMICS_COLUMNS, STRIVACITY_COLUMNS, FieldMap, load_fields
from recon.outputs import read_people_cells
from recon.private import private_tree
from recon.resources import default_runs_dir, sample_dir
from recon.runfolder import (
    BUCKETS,
    RUN_FILE,
    SIDE_COUNTS,
    SIDES,
    SNAPSHOTS,
    SUMMARY_FILE,
    table,
)
from recon.runner import SOURCES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recon.engine import Reconciliation
else:
    def Figure(*args: Any, **kwargs: Any) -> Any:  # stands in for the class
        """matplotlib is optional (the notebooks extra): imported by the first chart only, so
        ``open_run`` and the tables work on an install without it."""
        from matplotlib.figure import Figure as _Figure
        return _Figure(*args, **kwargs)

SAMPLE_DIR = sample_dir()
#: The §7 tables a ``RunView`` reads back, by attribute.
RUN_FILES = {name: table(name)[0] for name in ("matches", "duplicates", "drift", "review")}
#: Canonical snapshots of both sides, kept beside the §7 files so a run can be explored later.
SOURCE_FILES = SNAPSHOTS
_SIDE_MEASURES = SIDE_COUNTS


@dataclass(frozen=True)
class RunView:
    """One run read back from its folder: summary, the four §7 tables, and (if kept) both sides."""

    summary: dict[str, Any]
    matches: pd.DataFrame
    duplicates: pd.DataFrame
    drift: pd.DataFrame
    review: pd.DataFrame
    dynamics: pd.DataFrame | None = None
    strivacity: pd.DataFrame | None = None
    path: Path | None = None


# ---------------------------------------------------------------- loading and saving runs


def load_sides(source: str, dynamics_path: str | Path = "", strivacity_path: str | Path = "",
               fields: FieldMap | None = None,
               allow_empty: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical frames of both sides from the sample tenant, two export files, or a live pull.

    A side with zero records is an ``InputError`` unless ``allow_empty``.
    """
    from recon.api import check_records, read_both
    fields = fields or load_fields(None)
    if source == "live":
        from recon.dynamics.pull import pull_dynamics
        from recon.strivacity.pull import pull_strivacity
        return (check_records(pull_dynamics(fields=fields), "dynamics", "the Dataverse pull",
                              allow_empty),
                check_records(pull_strivacity(fields=fields), "strivacity",
                              "the Strivacity pull", allow_empty))
    if source == "sample":
        dynamics_path = SAMPLE_DIR / "dynamics_contacts.csv"
        strivacity_path = SAMPLE_DIR / "strivacity_accounts.ndjson"
    elif source != "files":
        raise ConfigError(f"source = {source!r} is not known; valid: {', '.join(SOURCES)}.")
    elif not dynamics_path or not strivacity_path:
        raise ConfigError("source = 'files' needs both dynamics_path and strivacity_path; "
                          "pass them as parameters (recon report --dynamics P --strivacity P).")
    return read_both(dynamics_path, strivacity_path, fields, allow_empty)


def save_run(result: Reconciliation, dynamics: pd.DataFrame, strivacity: pd.DataFrame,
             run_dir: str | Path = "") -> RunView:
    """Write the run folder (and the side snapshots) and read it back; no run_dir: a scratch one."""
    if not run_dir:
        with tempfile.TemporaryDirectory(prefix="recon-report-") as scratch:
            view = save_run(result, dynamics, strivacity, scratch)
        return RunView(**{**view.__dict__, "path": None})
    folder = Path(run_dir)
    result.write(folder)
    for side, frame, columns in (("dynamics", dynamics, DYNAMICS_COLUMNS),
                                 ("strivacity", strivacity, STRIVACITY_COLUMNS)):
        target = folder / SOURCE_FILES[side]
        target.parent.mkdir(parents=True, exist_ok=True)
        frame[[c for c in columns if c in frame.columns]].to_parquet(target, index=False)
    private_tree(folder)
    return open_run(folder)


def open_run(path: str | Path) -> RunView:
    """Read a run folder back; the side snapshots are optional (older or foreign runs lack them)."""
    folder = Path(path)
    if not (folder / SUMMARY_FILE).is_file():
        raise ConfigError(f"{folder}: no summary.json, so this is not a finished run folder. "
                          "Pass another folder, or leave run_path empty for the latest run.")
    summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    tables = {name: _read_table(folder / file) for name, file in RUN_FILES.items()}
    return RunView(summary=summary, path=folder, **tables,
                   dynamics=_read_snapshot(folder / SOURCE_FILES["dynamics"]),
                   strivacity=_read_snapshot(folder / SOURCE_FILES["strivacity"]))


def _read_snapshot(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.is_file() else None


def _read_table(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    frame = frame.apply(read_people_cells)  # show values, not the spreadsheet guard
    if "group_size" in frame.columns:
        frame["group_size"] = frame["group_size"].astype("int64")
    return frame


def run_folders(runs_dir: str | Path = "") -> list[Path]:
    """Finished run folders (those with a summary.json) under runs_dir, oldest first."""
    root = Path(runs_dir) if runs_dir else default_runs_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / SUMMARY_FILE).is_file())


def latest_run(runs_dir: str | Path = "") -> Path | None:
    """The newest finished run folder, or None when there is none yet."""
    folders = run_folders(runs_dir)
    return folders[-1] if folders else None


# ---------------------------------------------------------------- report tables


def headline(summary: dict[str, Any]) -> pd.DataFrame:
    """Per-side record counts and match rate: the figures people quote from a run."""
    table = pd.DataFrame([{m: summary[side][m] for m in _SIDE_MEASURES} for side in SIDES],
                         index=pd.Index([s.capitalize() for s in SIDES], name="side"))
    return table.assign(**{"match_rate_%": [_rate(summary[side]) for side in SIDES]})


def _rate(side: dict[str, Any]) -> float:
    return round(100.0 * side["matched"] / side["records"], 1) if side["records"] else 0.0


def pairs_and_batches(summary: dict[str, Any]) -> pd.DataFrame:
    """Pairs (by link, by email), drifting pairs and the size of each batch, as one table."""
    rows = [(f"pairs.{k}", v) for k, v in summary["pairs"].items()]
    rows.append(("drift.pairs", summary["drift"]["pairs"]))
    rows += [(f"batches.{k}", v) for k, v in summary["batches"].items()]
    return pd.DataFrame(rows, columns=["figure", "count"]).set_index("figure")


def drift_by_field(summary: dict[str, Any]) -> pd.DataFrame:
    """Pairs differing per field, most drifting first (ties by field name, so stable)."""
    counts = pd.DataFrame(sorted(summary["drift"]["fields"].items()), columns=["field", "pairs"])
    return counts.sort_values("pairs", ascending=False, kind="stable").reset_index(drop=True)


def review_reasons(summary: dict[str, Any]) -> pd.DataFrame:
    """Records held for review, per reason and side."""
    table = pd.DataFrame({side: pd.Series(summary[side]["review_reasons"], dtype="int64")
                          for side in SIDES}).fillna(0).astype("int64")
    table.index.name = "reason"
    return table.sort_index()


def duplicate_groups(duplicates: pd.DataFrame) -> pd.DataFrame:
    """One row per duplicate group: side, email key, size and the suggested survivor's id."""
    flag = duplicates["suggested_survivor"].astype("string").str.lower()
    boolean = flag.isin(["true", "false", "1", "0", "yes", "no"]).fillna(False).astype(bool)
    # the column holds either the survivor's record id or a per-row true/false flag
    survivor = duplicates["suggested_survivor"].astype("string").mask(boolean, pd.NA)
    survivor = survivor.mask(flag.isin(["true", "1", "yes"]).fillna(False).astype(bool),
                             duplicates["record_id"].astype("string"))
    groups = duplicates.assign(survivor=survivor).groupby(["side", "email_key"], sort=True)
    return groups.agg(group_size=("group_size", "max"), survivor=("survivor", "first")) \
        .reset_index()


def examples(frame: pd.DataFrame, n: int = 5, by: str | None = None) -> pd.DataFrame:
    """The first n rows in a stable order; with ``by``, the first n of each value of that column."""
    ordered = frame.sort_values(list(frame.columns[:3]), kind="stable", na_position="last")
    if by is None:
        return ordered.head(n).reset_index(drop=True)
    return ordered.groupby(by, sort=True).head(n).sort_values(by, kind="stable") \
        .reset_index(drop=True)


# ---------------------------------------------------------------- history


def run_history(runs_dir: str | Path = "") -> pd.DataFrame:
    """One row per finished run in runs_dir, oldest first: match rates, drift, duplicates."""
    rows = []
    for folder in run_folders(runs_dir):
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        meta_file = folder / RUN_FILE
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        rows.append({"run": folder.name, "started": meta.get("started", _stamp(folder.name)),
                     "dynamics_match_rate_%": _rate(summary["dynamics"]),
                     "strivacity_match_rate_%": _rate(summary["strivacity"]),
                     "drift_pairs": summary["drift"]["pairs"],
                     "duplicate_groups": sum(summary[s]["duplicate_groups"] for s in SIDES),
                     "review": sum(summary[s]["review"] for s in SIDES)})
    columns = ["run", "started", "dynamics_match_rate_%", "strivacity_match_rate_%",
               "drift_pairs", "duplicate_groups", "review"]
    return pd.DataFrame(rows, columns=columns)


def _stamp(name: str) -> str | None:
    """The ISO time in a run folder name like 20260101T060000Z-nightly, if it has one."""
    match = re.match(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", name)
    return "{}-{}-{}T{}:{}:{}Z".format(*match.groups()) if match else None


# ---------------------------------------------------------------- charts (static PNG)


_BUCKET_LABELS = {"matched": "paired", "only": "only in this system",
                  "review": "held for review"}


def _whole_numbers(axis: Any) -> None:
    """Ticks only at whole numbers (counts have no halves)."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter  # matplotlib is optional

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def overlap_chart(summary: dict[str, Any]) -> Figure:
    """Stacked bars per side: paired, only in this system, held for review."""
    fig = Figure(figsize=(7, 2.4), layout="constrained")
    fig.set_label("Records per system: paired, only in this system, held for review")
    ax = fig.add_subplot()
    colours = {"matched": "#2a9d8f", "only": "#e9c46a", "review": "#e76f51"}
    left = [0, 0]
    for bucket in BUCKETS:
        counts = [summary[side][bucket] for side in SIDES]
        ax.barh(["Dynamics", "Strivacity"], counts, left=left, label=_BUCKET_LABELS[bucket],
                color=colours[bucket])
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()  # Dynamics on top, as in the tables
    ax.set_xlabel("records")
    _whole_numbers(ax.xaxis)
    ax.legend(ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return fig


def drift_chart(summary: dict[str, Any]) -> Figure:
    """Horizontal bars of drifting pairs per field, largest on top."""
    from recon.wording import field_label
    counts = drift_by_field(summary).iloc[::-1]
    fig = Figure(figsize=(7, 0.35 * max(len(counts), 3) + 0.8), layout="constrained")
    fig.set_label("Matched pairs with a difference, per field")
    ax = fig.add_subplot()
    ax.barh(counts["field"].map(field_label), counts["pairs"], color="#264653")
    ax.set_xlabel("pairs with a difference")
    _whole_numbers(ax.xaxis)
    return fig


#: Line styles that stay distinguishable where two lines run on top of each other.
_LINES = {"Dynamics": {"color": "#1f77b4", "marker": "o", "linestyle": "-", "markersize": 10,
                       "linewidth": 3.5, "alpha": 0.8},
          "Strivacity": {"color": "#c0392b", "marker": "s", "linestyle": "--",
                         "markersize": 4, "linewidth": 1.4}}


def history_chart(history: pd.DataFrame) -> Figure:
    """Match rate, drift pairs and duplicate groups over the runs, one panel each.

    The two match-rate lines differ in style and marker (solid dots under dashed hollow
    squares), so equal rates still show both; count panels have whole-number ticks."""
    fig = Figure(figsize=(8, 6.4), layout="constrained")
    fig.set_label("Match rate, pairs with a difference and duplicate groups per run")
    axes = fig.subplots(3, 1, sharex=True)
    x = list(range(len(history)))
    for side in ("Dynamics", "Strivacity"):
        axes[0].plot(x, history[f"{side.lower()}_match_rate_%"], label=side, **_LINES[side])
    axes[0].set_ylabel("match rate %")
    rates = pd.concat([history["dynamics_match_rate_%"], history["strivacity_match_rate_%"]])
    low = float(rates.min()) if len(rates) else 0.0
    axes[0].set_ylim(max(0.0, min(low - 5.0, 90.0)), 100.5)
    axes[0].legend(frameon=False, ncols=2, loc="lower left", bbox_to_anchor=(0.0, 1.0))
    for ax, column, label, colour in ((axes[1], "drift_pairs", "pairs with a difference",
                                       "#264653"),
                                      (axes[2], "duplicate_groups", "duplicate groups",
                                       "#e76f51")):
        ax.plot(x, history[column], marker="o", color=colour)
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0, top=max(1, int(history[column].max() if len(history) else 0)) * 1.15)
        _whole_numbers(ax.yaxis)
    for ax in axes:
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    step = max(1, -(-len(x) // 12))  # at most about 12 run names under the axis
    axes[2].set_xticks(x[::step], list(history["run"])[::step], rotation=30, ha="right",
                       fontsize=8)
    if len(x) == 1:
        axes[2].set_xlim(-0.5, 0.5)
    return fig


@dataclass(frozen=True)
class Chart:
    """A chart as PNG bytes with alternative text; shows as an inline <img> in Lab and HTML."""

    png: bytes
    alt: str

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}">'

    def __repr__(self) -> str:
        return f"<Chart: {self.alt}>"


def as_png(fig: Figure) -> Chart:
    """The figure as inline PNG, so it renders with no internet; its label becomes the alt text."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    return Chart(png=buffer.getvalue(), alt=str(fig.get_label() or "chart"))

