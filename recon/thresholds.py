"""``--fail-on`` thresholds: a dotted path into summary.json, an operator and a number.

A breach makes ``recon report`` exit 3 after writing everything; the paths are every figure of
summary.json (``recon.runfolder``) plus the figures derived from a side's counts.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recon.errors import ConfigError
from recon.fields import DEFAULT_FIELDS
from recon.runfolder import BATCH_NAMES, DRIFT_KEYS, PAIRS_KEYS, REVIEW_REASONS, SIDE_COUNTS, SIDES

#: Figures --fail-on derives from a side's counts: matched / records (0 to 1; 0 with no records).
DERIVED = ("match_rate",)
#: Every dotted path into summary.json (recon.runfolder) a --fail-on expression may name.
SUMMARY_PATHS = (
    *(f"{side}.{key}" for side in SIDES for key in SIDE_COUNTS),
    *(f"{side}.{key}" for side in SIDES for key in DERIVED),
    *(f"{side}.review_reasons.{r}" for side in SIDES for r in REVIEW_REASONS),
    *(f"pairs.{key}" for key in PAIRS_KEYS), f"drift.{DRIFT_KEYS[0]}",  # drift.pairs
    *(f"drift.fields.{name}" for name in DEFAULT_FIELDS.names),
    *(f"batches.{b}" for b in BATCH_NAMES),
    *(f"problems.{f.name}" for f in DEFAULT_FIELDS.fields if f.comparer == "phone"),
)
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt}
_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """A --fail-on expression: a summary.json path, an operator and a limit."""

    text: str
    path: str
    op: str
    limit: float

    def value(self, summary: Mapping[str, Any]) -> float:
        """The figure at path; a reason or field the run never counted is 0."""
        side, _, last = self.path.partition(".")
        if last == "match_rate":
            counts = summary.get(side) or {}
            return counts.get("matched", 0) / counts["records"] if counts.get("records") else 0.0
        node: Any = summary
        for part in self.path.split("."):
            node = node.get(part, 0) if isinstance(node, Mapping) else 0
        return float(node)

    def exceeded(self, summary: Mapping[str, Any]) -> bool:
        return OPERATORS[self.op](self.value(summary), self.limit)


def parse_threshold(text: str) -> Threshold:
    """Parse ``drift.pairs>500``; a bad expression names the valid operators and paths."""
    match = _EXPR.match(text)
    if not match:
        raise ConfigError(f"--fail-on {text!r} is not PATH OP NUMBER; operators: "
                          f"{' '.join(OPERATORS)}; e.g. 'drift.pairs>500'.")
    path, op, limit = match.groups()
    if path not in SUMMARY_PATHS:
        raise ConfigError(f"--fail-on {text!r}: {path!r} is not a summary.json figure; "
                          f"valid paths: {', '.join(SUMMARY_PATHS)}.")
    return Threshold(text=text.strip(), path=path, op=op, limit=float(limit))


def parse_thresholds(texts: Sequence[str]) -> tuple[Threshold, ...]:
    return tuple(parse_threshold(t) for t in texts)
