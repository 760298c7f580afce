"""The report's tables and sentences, in plain words, from a run read back from its folder.

Each function takes the summary or one of the run's tables and returns a ``display.Table`` or
``display.Note``; the notebook only displays them. Labels and explanations come from
``recon.wording``; the run folder's own names appear only where a user needs them (file names).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from recon import wording
from recon.display import Note, Table, note
from recon.fields import LINK_ATTRIBUTE

SIDES = ("dynamics", "strivacity")


def _rate(side: dict[str, Any]) -> float:
    return 100.0 * side["matched"] / side["records"] if side["records"] else 0.0


def _percent(value: float) -> str:
    return f"{value:.1f} %"


# ---------------------------------------------------------------- where the data came from


def source_note(source: str, dynamics_path: str = "", strivacity_path: str = "",
                source_name: str = "", run_path: Path | None = None,
                read_at: str = "") -> Note:
    """Which systems, files or sample the run read, and where its folder is."""
    env = os.environ
    if source == "live":
        what = (f"Live pull from {source_name or 'the tenants in the environment'}: Dataverse "
                f"{env.get('DATAVERSE_URL', '(DATAVERSE_URL unset)')}; Strivacity "
                f"{env.get('STRIVACITY_URL', '(STRIVACITY_URL unset)')}, identity store "
                f"{env.get('STRIVACITY_STORE', 'default')}.")
    elif source == "files":
        what = (f"Export files{f' ({source_name})' if source_name else ''}: Dynamics "
                f"{dynamics_path}; Strivacity {strivacity_path}.")
    else:
        what = (f"The bundled sample tenant{f' ({source_name})' if source_name else ''}: "
                "data/sample/dynamics_contacts.csv and data/sample/strivacity_accounts.ndjson.")
    when = f" Read at {read_at}." if read_at else ""
    folder = (f"Run folder: {run_path} (the CSV and batch files this report describes)."
              if run_path else "Run folder: none kept (a scratch folder, deleted after the run).")
    return note(f"Data: {what}{when}", folder)


# ---------------------------------------------------------------- headline


def headline_note(summary: dict[str, Any]) -> Note:
    """One sentence per side: how many records, how many paired."""
    parts = [f"{summary[s]['records']:,} {wording.SIDES[s]} {wording.RECORDS[s]}: "
             f"{summary[s]['matched']:,} paired ({_percent(_rate(summary[s]))}), "
             f"{summary[s]['only']:,} only in {wording.SIDES[s]}, "
             f"{summary[s]['review']:,} held for review." for s in SIDES]
    return note(*parts, "Every record is in exactly one of these: paired, only in its own "
                        "system, or held for review (a person decides; see Held for review).")


def headline(summary: dict[str, Any]) -> Table:
    """Per-side counts and match rate."""
    rows = [{"System": f"{wording.SIDES[s]} {wording.RECORDS[s]}",
             "Records": summary[s]["records"], "Paired": summary[s]["matched"],
             "Only in this system": summary[s]["only"],
             "Held for review": summary[s]["review"],
             "Duplicate groups": summary[s]["duplicate_groups"],
             "Missing or invalid email": summary[s]["invalid_email"],
             "Match rate": _percent(_rate(summary[s]))} for s in SIDES]
    return Table(pd.DataFrame(rows), nowrap=("System",), numbers=("Match rate",))


def pairs(summary: dict[str, Any], link_attribute: str = LINK_ATTRIBUTE) -> Table:
    """How the pairs were made, and how many differ."""
    rows = [(label, summary["pairs"][f"by_{kind}"], text.format(link=link_attribute))
            for kind, (label, text) in wording.MATCH_TYPES.items()]
    rows += [("Pairs with a difference", summary["drift"]["pairs"],
              "Pairs where at least one mapped field differs (see Drift by field)."),
             ("All pairs", summary["pairs"]["total"], "")]
    frame = pd.DataFrame(rows, columns=["Paired", "Pairs", "What it means"])
    return Table(frame, nowrap=("Paired",), wide=("What it means",), total=True)


# ---------------------------------------------------------------- batches


def batches(summary: dict[str, Any]) -> Table:
    """Each batch: plain name, lines, what a line does, and its file in the run folder."""
    files = {"migrate_to_strivacity": "migrate_to_strivacity.ndjson (and .csv)",
             "create_in_dynamics": "create_in_dynamics.jsonl",
             "update_dynamics": "update_dynamics.jsonl",
             "update_strivacity": "update_strivacity.ndjson"}
    rows = [(label, summary["batches"].get(name, 0), text, f"batches/{files[name]}")
            for name, (label, text) in wording.BATCHES.items()]
    frame = pd.DataFrame(rows, columns=["Change", "Lines", "Each line is", "File"])
    return Table(frame, nowrap=("Change", "File"), wide=("Each line is",))


def strivacity_update_parts(summary: dict[str, Any], drift: pd.DataFrame) -> pd.DataFrame:
    """Update Strivacity's lines by cause: fields Dynamics wins, the link written back onto
    accounts paired by email, and onto accounts whose contact this run creates. A remainder
    (none when the engine keeps DESIGN §6) shows as its own row, so the parts add up."""
    fields = int((drift["action"] == "update_strivacity").sum()) if len(drift) else 0
    email_pairs = int(summary["pairs"]["by_email"])
    created = int(summary["batches"].get("create_in_dynamics", 0))
    total = int(summary["batches"].get("update_strivacity", 0))
    rows = [("Fields Dynamics wins", fields,
             "A differing field where the field map makes Dynamics the winner."),
            ("Link for accounts paired by email", email_pairs,
             "The contact's id is stored on the account, so later runs pair them by link "
             "even after an email changes."),
            ("Link for accounts whose contact this run creates", created,
             "Create in Dynamics fixes each new contact's id; the account gets it too.")]
    other = total - fields - email_pairs - created
    if other:
        rows.append(("Other lines", other, "Lines the parts above do not explain."))
    rows.append(("Update Strivacity", total, ""))
    return pd.DataFrame(rows, columns=["Part", "Lines", "Why"])


def strivacity_updates(summary: dict[str, Any], drift: pd.DataFrame) -> Table:
    """Why Update Strivacity can be much larger than the drift: the parts that make it."""
    return Table(strivacity_update_parts(summary, drift), nowrap=("Part",), wide=("Why",),
                 total=True)


def strivacity_updates_note(summary: dict[str, Any], drift: pd.DataFrame) -> Note:
    parts = strivacity_update_parts(summary, drift).set_index("Part")["Lines"]
    links = int(parts.iloc[1] + parts.iloc[2])
    return note(f"Update Strivacity has {int(parts.iloc[-1]):,} lines while "
                f"{summary['drift']['pairs']:,} pairs differ: {links:,} of them write the link "
                "(the Dynamics contact id) onto accounts that lack it, and "
                f"{int(parts.iloc[0]):,} are fields Dynamics wins.")


# ---------------------------------------------------------------- drift


def drift_fields(summary: dict[str, Any], drift: pd.DataFrame) -> Table:
    """Per field: pairs that differ, and what happens to those differences."""
    counts = pd.DataFrame(sorted(summary["drift"]["fields"].items()), columns=["field", "pairs"])
    counts = counts.sort_values("pairs", ascending=False, kind="stable")
    actions = (drift.groupby(["field", "action"]).size().unstack(fill_value=0)
               if len(drift) else pd.DataFrame())
    frame = pd.DataFrame({"Field": counts["field"].map(wording.field_label),
                          "Pairs with a difference": counts["pairs"]})
    for action, label in wording.ACTIONS.items():
        column = actions[action] if action in actions.columns else pd.Series(dtype="int64")
        frame[label] = counts["field"].map(column).fillna(0).astype("int64").to_numpy()
    return Table(frame.reset_index(drop=True), nowrap=("Field",))


def drift_examples(drift: pd.DataFrame, n: int = 5) -> Table:
    """Up to n differing values per field: the person, both values, and what happens (with
    the reason when the difference is only reported). The ids stay in drift.csv, so the table
    fits the page."""
    ordered = drift.sort_values(["field", "email_key", "contactid"], kind="stable",
                                na_position="last").groupby("field", sort=True).head(n)
    reasons = (ordered["reason"] if "reason" in ordered.columns
               else pd.Series(pd.NA, index=ordered.index, dtype="object"))
    happens = [wording.ACTIONS.get(a, a) + (f": {wording.drift_label(r)}"
                                            if isinstance(r, str) else "")
               for a, r in zip(ordered["action"], reasons, strict=True)]
    frame = pd.DataFrame({
        "Field": ordered["field"].map(wording.field_label).to_numpy(),
        "Email": ordered["email_key"].to_numpy(),
        "Dynamics holds": ordered["dynamics_value"].to_numpy(),
        "Strivacity holds": ordered["strivacity_value"].to_numpy(),
        "What happens": happens})
    return Table(frame, nowrap=("Field", "Email"),
                 empty="No matched pair differs in any field.")


def drift_reasons(drift: pd.DataFrame) -> Table:
    """Why differences are only reported: each reason found in this run, with its count."""
    found = (drift["reason"].dropna().value_counts() if "reason" in drift.columns
             else pd.Series(dtype="int64"))
    rows = [(label, int(found[r]), text) for r, (label, text) in wording.DRIFT_REASONS.items()
            if r in found.index]
    return Table(pd.DataFrame(rows, columns=["Why only reported", "Rows", "What it means"]),
                 nowrap=("Why only reported",), wide=("What it means",),
                 empty="Every difference in this run is written by a batch; none is only "
                       "reported.")


# ---------------------------------------------------------------- duplicates, review, matches


def duplicates(groups: pd.DataFrame, n: int = 5) -> Table:
    """Duplicate groups (``report.duplicate_groups``): system, email, size, survivor."""
    shown = groups.head(n)
    frame = pd.DataFrame({"System": shown["side"].map(wording.SIDES), "Email": shown["email_key"],
                          "Records": shown["group_size"],
                          "Suggested survivor": shown["survivor"]})
    return Table(frame.reset_index(drop=True), ids=("Suggested survivor",), nowrap=("Email",),
                 empty="No email is held by more than one record of a system.")


def review(summary: dict[str, Any]) -> Table:
    """Records held for review per reason and system, with what each reason means."""
    rows = []
    for reason, (label, text) in wording.REVIEW_REASONS.items():
        counts = [int(summary[s]["review_reasons"].get(reason, 0)) for s in SIDES]
        if any(counts):
            rows.append((label, *counts, text))
    extra = sorted({r for s in SIDES for r, c in summary[s]["review_reasons"].items()
                    if c and r not in wording.REVIEW_REASONS})
    rows += [(r, *(int(summary[s]["review_reasons"].get(r, 0)) for s in SIDES), "")
             for r in extra]
    frame = pd.DataFrame(rows, columns=["Reason", "Dynamics", "Strivacity",
                                        "What it means and what to do"])
    return Table(frame, nowrap=("Reason",), wide=("What it means and what to do",),
                 empty="No record is held for review.")


def review_examples(rows: pd.DataFrame, n: int = 5) -> Table:
    """Up to n held records per reason: system, id, email and the reason (an invalid email
    shows the value as held, from review.csv's ``value``: it has no key)."""
    order = {r: i for i, r in enumerate(wording.REVIEW_REASONS)}
    ordered = rows.assign(_order=rows["reason"].map(order)).sort_values(
        ["_order", "reason", "side", "record_id"], kind="stable").groupby("reason").head(n)
    email = ordered["email_key"]
    if "value" in ordered.columns:
        email = email.fillna(ordered["value"])
    frame = pd.DataFrame({"Reason": ordered["reason"].map(wording.review_label),
                          "System": ordered["side"].map(wording.SIDES),
                          "Email": email, "Record id": ordered["record_id"]})
    return Table(frame.reset_index(drop=True), ids=("Record id",), nowrap=("Reason", "Email"),
                 empty="No record is held for review.")


def match_examples(matches: pd.DataFrame, n: int = 5) -> Table:
    """Up to n pairs of each kind: how paired, the email, both ids."""
    ordered = matches.sort_values(["match_type", "email_key", "contactid"], kind="stable") \
        .groupby("match_type", sort=True).head(n)
    frame = pd.DataFrame({
        "Paired": ordered["match_type"].map(lambda t: wording.MATCH_TYPES.get(t, (t,))[0]),
        "Email": ordered["email_key"], "Contact id": ordered["contactid"],
        "Account id": ordered["strivacity_id"]})
    return Table(frame.reset_index(drop=True), ids=("Contact id", "Account id"),
                 nowrap=("Paired", "Email"), empty="No pairs.")


def history(frame: pd.DataFrame, n: int = 20) -> Table:
    """The last n runs of ``report.run_history``, in words."""
    shown = frame.tail(n)
    out = pd.DataFrame({"Run": shown["run"], "Started": shown["started"],
                        "Dynamics match rate": shown["dynamics_match_rate_%"].map(_percent),
                        "Strivacity match rate": shown["strivacity_match_rate_%"].map(_percent),
                        "Pairs with a difference": shown["drift_pairs"],
                        "Duplicate groups": shown["duplicate_groups"],
                        "Held for review": shown["review"]})
    return Table(out.reset_index(drop=True), ids=("Run",), nowrap=("Started",),
                 numbers=("Dynamics match rate", "Strivacity match rate"),
                 empty="No finished runs in this runs folder yet.")
