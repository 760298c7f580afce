"""Tables and notes as the report shows them: no index, blanks empty, numbers with separators,
ids and emails on one line; the same text in Lab, in the HTML export and under nbval.

JupyterLab's stylesheet (also in the HTML export) lays tables out with ``table-layout: fixed``
(equal columns, so ids wrap) and right-aligns every cell; these tables override both for
themselves only (the doubled class outranks its ``:not(...)`` selectors).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

_STYLE = (
    "<style>"
    "table.recon-table.recon-table{table-layout:auto;border-collapse:collapse;margin:0.2em 0 1em;"
    "width:auto;font-size:12.5px;line-height:1.35}"
    "table.recon-table.recon-table th{text-align:left;font-weight:600;border-bottom:1px solid #888;"
    "padding:4px 10px;vertical-align:bottom}"
    "table.recon-table.recon-table td{text-align:left;padding:3px 10px;"
    "border-bottom:1px solid #e4e4e4;vertical-align:top}"
    "table.recon-table.recon-table .num{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    "table.recon-table.recon-table .nowrap{white-space:nowrap}"
    "table.recon-table.recon-table .id{white-space:nowrap;font-family:monospace;font-size:11.5px}"
    "table.recon-table.recon-table .wide{min-width:16em;max-width:38em}"
    "table.recon-table.recon-table tr.total td{font-weight:600;border-top:1px solid #888}"
    "p.recon-note{max-width:60em;margin:0.3em 0 0.8em}"
    "</style>")


def cell_text(value: Any) -> str:
    """One cell as text: blank for NA, thousands separators for numbers, yes/no for flags."""
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)) \
            or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    """A frame shown as a report table. ``ids`` are monospace and never wrap, ``nowrap``
    never wrap, ``wide`` get room for sentences; the last row is a total when ``total``."""

    frame: pd.DataFrame
    ids: Sequence[str] = ()
    nowrap: Sequence[str] = ()
    wide: Sequence[str] = ()
    total: bool = False
    empty: str = "None in this run."
    numbers: Sequence[str] = field(default=())

    def _classes(self, column: str) -> str:
        if column in self.ids:
            return "id"
        if column in self.numbers or (column not in self.wide and column not in self.nowrap
                                      and pd.api.types.is_numeric_dtype(self.frame[column])
                                      and not pd.api.types.is_bool_dtype(self.frame[column])):
            return "num"
        return "nowrap" if column in self.nowrap else "wide" if column in self.wide else ""

    def _repr_html_(self) -> str:
        if self.frame.empty:
            return f'<p class="recon-note">{html.escape(self.empty)}</p>'
        classes = [self._classes(c) for c in self.frame.columns]
        head = "".join(f'<th class="{k}">{html.escape(str(c))}</th>'
                       for c, k in zip(self.frame.columns, classes, strict=True))
        rows = []
        last = len(self.frame) - 1
        for n, values in enumerate(self.frame.itertuples(index=False, name=None)):
            cells = "".join(f'<td class="{k}">{html.escape(cell_text(v))}</td>'
                            for v, k in zip(values, classes, strict=True))
            rows.append(f'<tr class="total">{cells}</tr>' if self.total and n == last
                        else f"<tr>{cells}</tr>")
        return (f'{_STYLE}<table class="recon-table"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table>')

    def __repr__(self) -> str:
        if self.frame.empty:
            return self.empty
        text = self.frame.map(cell_text) if len(self.frame) else self.frame
        return str(text.to_string(index=False))


@dataclass(frozen=True)
class Note:
    """Paragraphs of plain text (escaped), for sentences computed from the run."""

    paragraphs: tuple[str, ...]

    def _repr_html_(self) -> str:
        return _STYLE + "".join(f'<p class="recon-note">{html.escape(p)}</p>'
                                for p in self.paragraphs)

    def __repr__(self) -> str:
        return "\n\n".join(self.paragraphs)


def note(*paragraphs: str) -> Note:
    return Note(tuple(paragraphs))
