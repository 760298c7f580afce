"""The run folder's contract (DESIGN §7): every name, column and key, in one place.

Scheduled jobs, spreadsheets and ``recon apply`` read run folders, so what a run folder holds
is a contract. This module is its only spelling: the writer (``recon.runwriter``, for every
engine), the readers (``recon.report``, ``recon.apply``), the checkers (``recon.runner``'s
``--fail-on`` paths, the sample's truth) and the tests import it. A change here is a change of
the contract; ``tests/test_runfolder.py`` pins it against a literal copy so it is deliberate.

A run folder holds:

- ``summary.json``: ``dynamics`` and ``strivacity`` (each ``records``, ``matched``, ``only``,
  ``review``, ``duplicate_groups``, ``invalid_email``, ``review_reasons``: every review reason,
  zero or not, in ``REVIEW_REASONS`` order), ``pairs`` (``total``, ``by_link``, ``by_email``),
  ``drift`` (``pairs``, ``fields``: pairs differing per mapped field, in field-map order),
  ``batches`` (lines per batch file, in ``BATCHES`` order) and ``problems`` (rows of
  problems.csv per phone field of the field map, zero or not). On each side
  ``records == matched + only + review``; ``invalid_email`` counts missing or invalid emails;
  ``drift.pairs`` counts matched pairs with at least one drift row, whatever its action.
- Five CSVs for people (``TABLES``, ``people=True``): opened in spreadsheets, so a cell that
  starts like a formula or holds digits a spreadsheet would alter is neutralised by a leading
  ``'`` (``recon.outputs.safe_cells``).

  - ``matches.csv``: one row per matched pair; ``match_type`` is ``link`` or ``email``
    (``MATCH_TYPES``); the email key is the contact's, else the account's.
  - ``duplicates.csv``: members of each side's duplicate groups, with the group's size and the
    suggested survivor's record id.
  - ``drift.csv``: per matched pair and differing field, both sides' values as they hold them,
    the ``action`` (``DRIFT_ACTIONS``) and, for ``report``, the first ``reason`` that applies
    (``DRIFT_REASONS``); blank for the two update actions.
  - ``review.csv``: records held for review, with their ``reason`` (``REVIEW_REASONS``) and the
    offending ``value`` (the address of an ``invalid_email`` record; blank otherwise).
  - ``problems.csv``: values that cannot be written (phones that do not parse), per record and
    field, with why in plain words.

- ``batches/``: what ``recon apply`` sends (``BATCHES``): ``migrate_to_strivacity.ndjson``
  (Strivacity create-account bodies) and its flat ``migrate_to_strivacity.csv`` for a support-run
  import (``people=False``: cells exact, never neutralised; ``recon.outputs.import_cells``),
  ``create_in_dynamics.jsonl`` (contact bodies), ``update_dynamics.jsonl`` (one PATCH per
  contact, with ``was`` for rollback) and ``update_strivacity.ndjson`` (bulk
  ``updatePersonalData``). Apply sends them in ``SEND_ORDER``.
- Beside these, when the run knows them: ``sources/dynamics.parquet`` and
  ``sources/strivacity.parquet`` (``SNAPSHOTS``: both canonical sides, for exploring the run
  later), ``source.json`` (which tenant or files the data came from, for apply's guards),
  ``run.json`` (a scheduled report run's parameters, outcome and versions) with
  ``report.ipynb`` and ``report.html``, and ``apply/`` (apply's plan, journal and report).
"""

from __future__ import annotations

from dataclasses import dataclass

DYNAMICS, STRIVACITY = "dynamics", "strivacity"
SIDES = (DYNAMICS, STRIVACITY)

SUMMARY_FILE = "summary.json"
SOURCE_FILE = "source.json"
RUN_FILE = "run.json"
REPORT_NOTEBOOK, REPORT_HTML = "report.ipynb", "report.html"
BATCHES_DIR = "batches"
SOURCES_DIR = "sources"
#: What ``recon apply`` writes into a run folder (plan, journal, reports) goes here.
APPLY_DIR = "apply"
#: Canonical snapshot of each side, relative to the run folder.
SNAPSHOTS = {side: f"{SOURCES_DIR}/{side}.parquet" for side in SIDES}


@dataclass(frozen=True)
class Table:
    """A CSV of the run folder: the result's frame it holds and its columns, in order.
    ``people``: opened by people in spreadsheets (neutralised), else read by a system (exact)."""

    attribute: str
    columns: tuple[str, ...]
    people: bool = True


#: The run folder's CSVs for people, by file name.
TABLES = {
    "matches.csv": Table("matches", ("match_type", "email_key", "contactid", "strivacity_id")),
    "duplicates.csv": Table("duplicates", ("side", "email_key", "record_id", "group_size",
                                           "suggested_survivor")),
    "drift.csv": Table("drift", ("contactid", "strivacity_id", "email_key", "field",
                                 "dynamics_value", "strivacity_value", "action", "reason")),
    "review.csv": Table("review", ("side", "record_id", "email_key", "reason", "value")),
    "problems.csv": Table("problems", ("side", "record_id", "field", "value", "reason")),
}


def table(attribute: str) -> tuple[str, Table]:
    """The file name and ``Table`` of the result frame ``attribute`` (``"review"``)."""
    for name, found in TABLES.items():
        if found.attribute == attribute:
            return name, found
    raise KeyError(f"{attribute!r} is not a run-folder table; valid: "
                   f"{', '.join(t.attribute for t in TABLES.values())}")


def columns(attribute: str) -> tuple[str, ...]:
    """The columns, in order, of the table of result frame ``attribute``."""
    return table(attribute)[1].columns


@dataclass(frozen=True)
class Batch:
    """A batch: its JSON-lines file under ``batches/``, the system it writes to, and the flat
    CSV beside it (``csv``, for a system import: exact cells) when it has one."""

    file: str
    target: str
    csv: str | None = None


#: The batches by name, in summary.json's order.
BATCHES = {
    "migrate_to_strivacity": Batch("migrate_to_strivacity.ndjson", STRIVACITY,
                                   csv="migrate_to_strivacity.csv"),
    "create_in_dynamics": Batch("create_in_dynamics.jsonl", DYNAMICS),
    "update_dynamics": Batch("update_dynamics.jsonl", DYNAMICS),
    "update_strivacity": Batch("update_strivacity.ndjson", STRIVACITY),
}
BATCH_NAMES = tuple(BATCHES)
#: The order ``recon apply`` sends batches in (a run's id digests the files in this order).
SEND_ORDER = ("update_dynamics", "create_in_dynamics", "migrate_to_strivacity",
              "update_strivacity")
#: Import CSVs under ``batches/`` (never neutralised), by file name -> batch name.
IMPORT_FILES = {b.csv: name for name, b in BATCHES.items() if b.csv}
#: Every file a run folder written by recon holds, relative to the folder.
RUN_FOLDER_FILES = (SUMMARY_FILE, *TABLES,
                    *(f"{BATCHES_DIR}/{b.file}" for b in BATCHES.values()),
                    *(f"{BATCHES_DIR}/{file}" for file in IMPORT_FILES))

MATCH_LINK, MATCH_EMAIL = "link", "email"
#: ``match_type`` in matches.csv.
MATCH_TYPES = (MATCH_LINK, MATCH_EMAIL)

#: Buckets of a record; summary.json counts each per side.
BUCKETS = ("matched", "only", "review")
#: ``reason`` in review.csv and the keys of summary.json's ``review_reasons``, in that order.
REVIEW_REASONS = ("dangling_link", "shared_link", "missing_email", "invalid_email",
                  "duplicate_email", "email_in_use", "secondary_email_match",
                  "missing_required_field")
#: Review reasons that also count as ``invalid_email`` in summary.json.
EMAIL_REVIEW_REASONS = ("missing_email", "invalid_email")

#: ``action`` in drift.csv: ``report`` is never batched; an update names the batch it goes to.
DRIFT_ACTIONS = ("report", "update_dynamics", "update_strivacity")
#: ``reason`` in drift.csv for a ``report`` action (recon.engine.drift says when each applies).
DRIFT_REASONS = ("duplicate_group", "winner_report", "no_newer_side", "blank_winner",
                 "unparseable_phone", "invalid_email", "not_writable", "email_in_use")

#: summary.json's top-level keys, in order.
SUMMARY_KEYS = (*SIDES, "pairs", "drift", "batches", "problems")
#: Keys of each side's block, in order (``review_reasons`` is a dict over ``REVIEW_REASONS``).
SIDE_KEYS = ("records", "matched", "only", "review", "duplicate_groups", "invalid_email",
             "review_reasons")
#: The side figures that are plain counts.
SIDE_COUNTS = SIDE_KEYS[:-1]
PAIRS_KEYS = ("total", "by_link", "by_email")
#: ``drift``'s keys (``fields`` is a dict over the field map's names).
DRIFT_KEYS = ("pairs", "fields")
