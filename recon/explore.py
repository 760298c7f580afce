"""Run tables for exploring in a notebook: searched in pandas over the whole run, shown in parts.

An interactive table in the browser can only search what was sent to it, and a run has millions
of rows, so the search happens here, over every row, and the page gets at most ``SHOW_ROWS`` of
the rows that match, whole (never downsampled), with a caption that says when it is a part and
how to see the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from recon.errors import ConfigError

if TYPE_CHECKING:
    from recon.report import RunView

#: Rows of one table sent to the page; the rest stay in pandas (narrow the search or export).
SHOW_ROWS = 1000


@dataclass(frozen=True)
class Part:
    """The rows of one table that match a search, cut to ``limit`` for the page."""

    name: str
    rows: pd.DataFrame
    total: int
    matching: int
    query: str = ""

    @property
    def caption(self) -> str:
        where = f" matching {self.query!r}" if self.query else ""
        if len(self.rows) == self.matching:
            found = f"{self.matching:,} of {self.total:,} rows" if self.query else \
                f"{self.total:,} rows"
            return f"{self.name}: {found}{where}, all shown"
        whole = f" (of {self.total:,})" if self.query else ""
        return (f"{self.name}: showing the first {len(self.rows):,} of {self.matching:,} rows"
                f"{where}{whole}; narrow it with the notebook's `search` parameter, or set "
                "`export_path` to write every row to CSV")

    def _repr_html_(self) -> str:
        from itables import to_html_datatable  # the notebooks extra; only a page needs it

        # maxBytes=0: itables must not downsample; the rows are already cut to the page.
        # Blanks show as empty cells, not NaN.
        shown = self.rows.astype("string").fillna("")
        return to_html_datatable(shown, caption=self.caption, maxBytes=0, connected=False,
                                 showIndex=False)

    def __repr__(self) -> str:
        return f"<Part {self.caption}>"


def search(frame: pd.DataFrame, query: str = "", *, name: str = "table",
           limit: int = SHOW_ROWS) -> Part:
    """Rows of ``frame`` where some text cell contains ``query`` (any case; all rows when it is
    empty), the first ``limit`` of them ready to show."""
    needle = query.strip().casefold()
    hit = matches(frame, needle) if needle else pd.Series(True, index=frame.index)
    chosen = frame[hit]
    return Part(name=name, rows=chosen.head(limit).reset_index(drop=True), total=len(frame),
                matching=len(chosen), query=query.strip())


def matches(frame: pd.DataFrame, needle: str) -> pd.Series:
    """True where some cell, read as text, contains ``needle`` (already case-folded)."""
    hit = pd.Series(False, index=frame.index)
    for column in frame.columns:
        text = frame[column].astype("string").str.casefold()
        hit |= text.str.contains(needle, regex=False).fillna(False).astype(bool)
    return hit


# ---------------------------------------------------------------- a person across both systems


@dataclass(frozen=True)
class Lookup:
    """The records of both sides that answer a person query, and the drift of their pairs."""

    records: pd.DataFrame
    drift: pd.DataFrame



def find_person(view: RunView, query: str) -> Lookup:
    """Records of both sides whose email or name contains query (any case), with their drift."""
    needle = query.strip().casefold()
    if not needle:
        raise ConfigError("query is empty; give part of an email address or a name.")
    found = []
    for side, frame, id_column in (("dynamics", view.dynamics, "contactid"),
                                   ("strivacity", view.strivacity, "strivacity_id")):
        records = _side_records(view, side, frame)
        hit = pd.Series(False, index=records.index)
        for column in ("email", "email_key", "given_name", "family_name", "full_name"):
            if column in records.columns:
                text = records[column].astype("string").str.casefold()
                hit |= text.str.contains(needle, regex=False).fillna(False).astype(bool)
        found.append(records[hit].assign(side=side).pipe(_with_status, view, side, id_column))
    records = pd.concat(found, ignore_index=True)
    drift = view.drift[view.drift["contactid"].isin(records["record_id"])
                       | view.drift["strivacity_id"].isin(records["record_id"])]
    return Lookup(records=records, drift=drift.reset_index(drop=True))


def _side_records(view: RunView, side: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:  # no snapshot: the records the run files name, with their email key
        named = [view.review.loc[view.review["side"] == side, ["record_id", "email_key"]],
                 view.duplicates.loc[view.duplicates["side"] == side, ["record_id", "email_key"]],
                 view.matches[["contactid" if side == "dynamics" else "strivacity_id",
                               "email_key"]].set_axis(["record_id", "email_key"], axis=1)]
        return pd.concat(named).drop_duplicates("record_id", ignore_index=True)
    columns = [c for c in ("record_id", "email", "email_key", "given_name", "family_name",
                           "active") if c in frame.columns]
    names = frame[["given_name", "family_name"]].astype("string")
    return frame[columns].assign(full_name=names["given_name"].str.cat(names["family_name"],
                                                                       sep=" ", na_rep=""))


def _with_status(records: pd.DataFrame, view: RunView, side: str, id_column: str) -> pd.DataFrame:
    other = "strivacity_id" if id_column == "contactid" else "contactid"
    partners = view.matches.set_index(id_column)[other]
    reasons = view.review[view.review["side"] == side].set_index("record_id")["reason"]
    status = records["record_id"].map(reasons).astype("string")
    status = status.mask(records["record_id"].isin(partners.index), "matched").fillna("only")
    front = ["side", "record_id", "status", "partner_id"]
    out = records.assign(status=status, partner_id=records["record_id"].map(partners))
    return out[front + [c for c in out.columns if c not in front and c != "full_name"]]


def drift_for(drift: pd.DataFrame, field: str = "") -> pd.DataFrame:
    """Drift rows of one field (all rows when field is empty); refuses a field with no column."""
    if not field:
        return drift.reset_index(drop=True)
    fields = sorted(drift["field"].dropna().unique())
    if field not in fields:
        raise ConfigError(f"no drift rows for field {field!r}; fields with drift: "
                          f"{', '.join(fields) or 'none'}. Pick one of those or leave it empty.")
    return drift[drift["field"] == field].reset_index(drop=True)


def export_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a selection as UTF-8 CSV by the run-folder rules: formulas defused, blanks empty."""
    from recon.outputs import safe_csv
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return safe_csv(frame, target)
