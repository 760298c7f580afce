"""Run tables for exploring in a notebook: searched in pandas over the whole run, shown in parts.

An interactive table in the browser can only search what was sent to it, and a run has millions
of rows, so the search happens here, over every row, and the page gets at most ``SHOW_ROWS`` of
the rows that match, whole (never downsampled), with a caption that says when it is a part and
how to see the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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
