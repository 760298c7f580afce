"""What the planted records should make the engine report, counted independently of the engine.

Each planted case and each bulk record declares its effect as a ``Tally``: a counter over dotted
summary paths (``"dynamics.review_reasons.shared_link"``, ``"batches.update_dynamics"``).
Adding tallies and nesting the result gives ``expected_summary`` in the shape of DESIGN §7.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from recon.fields import DEFAULT_FIELDS
from recon.runfolder import BATCH_NAMES, EMAIL_REVIEW_REASONS, REVIEW_REASONS, SIDES

#: Phone fields of the default field map: summary.json counts their problems.
PHONE_FIELDS = tuple(f.name for f in DEFAULT_FIELDS.fields if f.comparer == "phone")


Tally = Counter[str]


def link_pair() -> Tally:
    """A contact and an account paired by the account's link."""
    return Tally({"dynamics.matched": 1, "strivacity.matched": 1, "pairs.by_link": 1})


def email_pair() -> Tally:
    """A pair on email alone: the account lacks the link, so update_strivacity writes it."""
    return Tally({"dynamics.matched": 1, "strivacity.matched": 1, "pairs.by_email": 1,
                  "batches.update_strivacity": 1})


def drift(*fields: str, update: bool = True) -> Tally:
    """One matched pair differing in ``fields``; ``update`` when Strivacity's value is written."""
    tally = Tally({"drift.pairs": 1, "batches.update_dynamics": int(update)})
    tally.update({f"drift.fields.{field}": 1 for field in fields})
    return tally


def only(side: str, batched: bool) -> Tally:
    """A record only one side holds; ``batched`` when it is migrated or created. A contact
    created from an account gets its id from the run, and update_strivacity writes that id
    back to the account as its link."""
    batch = "migrate_to_strivacity" if side == "dynamics" else "create_in_dynamics"
    tally = Tally({f"{side}.only": 1, f"batches.{batch}": int(batched)})
    if side == "strivacity" and batched:
        tally["batches.update_strivacity"] += 1
    return tally


def review(side: str, reason: str, records: int = 1) -> Tally:
    """``records`` records of ``side`` held out for ``reason`` (one of the run folder's)."""
    if reason not in REVIEW_REASONS:
        raise ValueError(f"{reason!r} is not a review reason; valid: {', '.join(REVIEW_REASONS)}")
    tally = Tally({f"{side}.review_reasons.{reason}": records})
    if reason in EMAIL_REVIEW_REASONS:
        tally[f"{side}.invalid_email"] += records
    return tally


def duplicate_group(side: str, size: int) -> Tally:
    """A key held by ``size`` records of one side and by nothing on the other."""
    return review(side, "duplicate_email", size) + Tally({f"{side}.duplicate_groups": 1})


def summary(tally: Tally) -> dict[str, Any]:
    """Nest a tally into the summary.json shape; totals are derived, zeros written out."""
    out: dict[str, Any] = {side: _side(tally, side) for side in SIDES}
    by_link, by_email = tally["pairs.by_link"], tally["pairs.by_email"]
    out["pairs"] = {"total": by_link + by_email, "by_link": by_link, "by_email": by_email}
    out["drift"] = {"pairs": tally["drift.pairs"],
                    "fields": {f: tally[f"drift.fields.{f}"] for f in DEFAULT_FIELDS.names}}
    out["batches"] = {b: tally[f"batches.{b}"] for b in BATCH_NAMES}
    out["problems"] = {f: tally[f"problems.{f}"] for f in PHONE_FIELDS}
    return out


def _side(tally: Tally, side: str) -> dict[str, Any]:
    prefix = f"{side}.review_reasons."
    reasons = {k[len(prefix):]: v for k, v in sorted(tally.items())
               if k.startswith(prefix) and v}
    matched, only_, review_ = tally[f"{side}.matched"], tally[f"{side}.only"], sum(reasons.values())
    return {"records": matched + only_ + review_, "matched": matched, "only": only_,
            "review": review_, "duplicate_groups": tally[f"{side}.duplicate_groups"],
            "invalid_email": tally[f"{side}.invalid_email"], "review_reasons": reasons}
