"""The run-folder contract (recon.runfolder): pinned once, and held by every writer and reader.

``CONTRACT`` below is the only other spelling of the contract, written out on purpose (as
tests/test_errors.py does for exit codes): changing a name, a column or an order in
recon.runfolder fails here, so it is a deliberate change. Every other test imports the names.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from canonical import dynamics, strivacity

from recon import runfolder as rf
from recon.api import reconcile_files
from recon.apply import plan
from recon.engine import reconcile
from recon.engine.batches import Batches
from recon.engine.lines import ROW_LINES, TEXTS
from recon.fields import DEFAULT_FIELDS
from recon.report import open_run
from recon.runner import DERIVED, SUMMARY_PATHS
from recon.sample import truth

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

#: The contract, literally. Change it only together with DESIGN §7, the README and the users.
CONTRACT: dict[str, Any] = {
    "tables": {
        "matches.csv": ("matches", ["match_type", "email_key", "contactid", "strivacity_id"],
                        True),
        "duplicates.csv": ("duplicates", ["side", "email_key", "record_id", "group_size",
                                          "suggested_survivor"], True),
        "drift.csv": ("drift", ["contactid", "strivacity_id", "email_key", "field",
                                "dynamics_value", "strivacity_value", "action", "reason"], True),
        "review.csv": ("review", ["side", "record_id", "email_key", "reason", "value"], True),
        "problems.csv": ("problems", ["side", "record_id", "field", "value", "reason"], True),
    },
    "batches": {
        "migrate_to_strivacity": ("migrate_to_strivacity.ndjson", "strivacity",
                                  "migrate_to_strivacity.csv"),
        "create_in_dynamics": ("create_in_dynamics.jsonl", "dynamics", None),
        "update_dynamics": ("update_dynamics.jsonl", "dynamics", None),
        "update_strivacity": ("update_strivacity.ndjson", "strivacity", None),
    },
    "send_order": ["update_dynamics", "create_in_dynamics", "migrate_to_strivacity",
                   "update_strivacity"],
    "files": ["summary.json", "matches.csv", "duplicates.csv", "drift.csv", "review.csv",
              "problems.csv", "batches/migrate_to_strivacity.ndjson",
              "batches/create_in_dynamics.jsonl", "batches/update_dynamics.jsonl",
              "batches/update_strivacity.ndjson", "batches/migrate_to_strivacity.csv"],
    "names": {"summary": "summary.json", "source": "source.json", "run": "run.json",
              "notebook": "report.ipynb", "html": "report.html", "batches": "batches",
              "apply": "apply"},
    "snapshots": {"dynamics": "sources/dynamics.parquet",
                  "strivacity": "sources/strivacity.parquet"},
    "match_types": ["link", "email"],
    "buckets": ["matched", "only", "review"],
    "review_reasons": ["dangling_link", "shared_link", "missing_email", "invalid_email",
                       "duplicate_email", "email_in_use", "secondary_email_match",
                       "missing_required_field"],
    "email_review_reasons": ["missing_email", "invalid_email"],
    "drift_actions": ["report", "update_dynamics", "update_strivacity"],
    "drift_reasons": ["duplicate_group", "winner_report", "no_newer_side", "blank_winner",
                      "unparseable_phone", "invalid_email", "not_writable", "email_in_use"],
    "summary": ["dynamics", "strivacity", "pairs", "drift", "batches", "problems"],
    "side": ["records", "matched", "only", "review", "duplicate_groups", "invalid_email",
             "review_reasons"],
    "pairs": ["total", "by_link", "by_email"],
    "drift": ["pairs", "fields"],
}


def _module_contract() -> dict[str, Any]:
    """recon.runfolder in the shape of ``CONTRACT``."""
    return {
        "tables": {name: (t.attribute, list(t.columns), t.people)
                   for name, t in rf.TABLES.items()},
        "batches": {name: (b.file, b.target, b.csv) for name, b in rf.BATCHES.items()},
        "send_order": list(rf.SEND_ORDER),
        "files": list(rf.RUN_FOLDER_FILES),
        "names": {"summary": rf.SUMMARY_FILE, "source": rf.SOURCE_FILE, "run": rf.RUN_FILE,
                  "notebook": rf.REPORT_NOTEBOOK, "html": rf.REPORT_HTML,
                  "batches": rf.BATCHES_DIR, "apply": rf.APPLY_DIR},
        "snapshots": dict(rf.SNAPSHOTS),
        "match_types": list(rf.MATCH_TYPES),
        "buckets": list(rf.BUCKETS),
        "review_reasons": list(rf.REVIEW_REASONS),
        "email_review_reasons": list(rf.EMAIL_REVIEW_REASONS),
        "drift_actions": list(rf.DRIFT_ACTIONS),
        "drift_reasons": list(rf.DRIFT_REASONS),
        "summary": list(rf.SUMMARY_KEYS),
        "side": list(rf.SIDE_KEYS),
        "pairs": list(rf.PAIRS_KEYS),
        "drift": list(rf.DRIFT_KEYS),
    }


@pytest.mark.parametrize("part", sorted(CONTRACT))
def test_the_contract_is_what_is_documented(part: str) -> None:
    assert _module_contract()[part] == CONTRACT[part]


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The committed sample reconciled into a run folder (it plants every review reason)."""
    return reconcile_files(SAMPLE / "dynamics_contacts.csv", SAMPLE / "strivacity_accounts.ndjson",
                           tmp_path_factory.mktemp("run") / "run")


def test_a_run_folder_holds_exactly_the_contract_files(sample_run: tuple[Any, Path]) -> None:
    _, folder = sample_run
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    # source.json: the sample files' provenance, which reconcile_files records beside the run
    assert files - {rf.SOURCE_FILE} == set(rf.RUN_FOLDER_FILES)


def test_every_table_has_the_contract_header_and_the_result_its_columns(
        sample_run: tuple[Any, Path]) -> None:
    result, folder = sample_run
    for name, table in rf.TABLES.items():
        assert tuple(_rows(folder / name)[0]) == table.columns, name
        assert tuple(getattr(result, table.attribute).columns) == table.columns, name


def test_summary_json_has_the_contract_keys_in_order(sample_run: tuple[Any, Path]) -> None:
    _, folder = sample_run
    summary = json.loads((folder / rf.SUMMARY_FILE).read_text(encoding="utf-8"))
    assert tuple(summary) == rf.SUMMARY_KEYS
    for side in rf.SIDES:
        assert tuple(summary[side]) == rf.SIDE_KEYS
        assert tuple(summary[side]["review_reasons"]) == rf.REVIEW_REASONS
    assert tuple(summary["pairs"]) == rf.PAIRS_KEYS
    assert tuple(summary["drift"]) == rf.DRIFT_KEYS
    assert tuple(summary["drift"]["fields"]) == DEFAULT_FIELDS.names
    assert tuple(summary["batches"]) == rf.BATCH_NAMES


def test_the_sample_uses_every_review_reason_and_only_contract_values(
        sample_run: tuple[Any, Path]) -> None:
    result, _ = sample_run
    assert set(result.review["reason"]) == set(rf.REVIEW_REASONS)
    assert set(result.matches["match_type"]) == set(rf.MATCH_TYPES)
    assert set(result.drift["action"]) <= set(rf.DRIFT_ACTIONS)
    assert set(result.drift["reason"].dropna()) <= set(rf.DRIFT_REASONS)
    assert result.drift["reason"].isna().tolist() == (result.drift["action"] != "report").tolist()
    assert set(result.buckets["bucket"].astype(str)) == set(rf.BUCKETS)


def test_fail_on_names_every_figure_of_summary_json_and_nothing_else(
        sample_run: tuple[Any, Path]) -> None:
    _, folder = sample_run
    summary = json.loads((folder / rf.SUMMARY_FILE).read_text(encoding="utf-8"))

    def leaves(node: dict[str, Any], prefix: str = "") -> list[str]:
        return [path for key, value in node.items()
                for path in (leaves(value, f"{prefix}{key}.") if isinstance(value, dict)
                             else [f"{prefix}{key}"])]

    derived = [f"{side}.{key}" for side in rf.SIDES for key in DERIVED]  # from a side's counts
    assert sorted(leaves(summary) + derived) == sorted(SUMMARY_PATHS)


def test_people_tables_are_neutralised_and_the_import_csv_exact(tmp_path: Path) -> None:
    d = dynamics({"id": "c1", "email": "a@x.com", "family_name": "-Smith"},
                 {"id": "c2", "email": "=HYPERLINK(1)"})
    s = strivacity({"id": "a1", "email": "a@x.com", "link": "c1", "family_name": "=X"})
    folder = reconcile(d, s).write(tmp_path)
    assert ["'-Smith", "'=X"] in [row[4:6] for row in _rows(folder / "drift.csv")]
    assert "'=HYPERLINK(1)" in [row[4] for row in _rows(folder / "review.csv")]
    d = dynamics({"id": "c1", "email": "a@x.com", "family_name": "-Smith"})
    folder = reconcile(d, strivacity()).write(tmp_path / "import")
    for batch in rf.BATCHES.values():
        if batch.csv:
            header, row = _rows(folder / rf.BATCHES_DIR / batch.csv)
            assert dict(zip(header, row, strict=True))["name.familyName"] == "-Smith"


def test_the_engine_builds_every_batch_and_only_those() -> None:
    assert tuple(ROW_LINES) == tuple(TEXTS) == rf.BATCH_NAMES
    assert tuple(Batches.__dataclass_fields__) == rf.BATCH_NAMES
    empty = reconcile(dynamics(), strivacity())
    assert tuple(empty.batches.line_counts()) == rf.BATCH_NAMES
    for name in rf.DRIFT_ACTIONS[1:]:  # an update action names the batch it goes to
        assert name in rf.BATCHES


def test_apply_reads_every_batch_file_for_its_target() -> None:
    assert list(plan.BATCHES) == list(rf.SEND_ORDER)
    assert sorted(rf.SEND_ORDER) == sorted(rf.BATCHES)
    for name, (target, file) in plan.BATCHES.items():
        assert (target, file) == (rf.BATCHES[name].target, rf.BATCHES[name].file)
    assert set(plan.TARGETS) == set(rf.SIDES)


def test_the_report_reads_the_tables_and_snapshots_back(sample_run: tuple[Any, Path]) -> None:
    result, folder = sample_run
    view = open_run(folder)
    for attribute in ("matches", "duplicates", "drift", "review"):
        assert tuple(getattr(view, attribute).columns) == rf.columns(attribute)
        assert len(getattr(view, attribute)) == len(getattr(result, attribute))


def test_the_sample_truth_refuses_a_reason_outside_the_contract() -> None:
    for reason in rf.REVIEW_REASONS:
        assert truth.review("dynamics", reason)[f"dynamics.review_reasons.{reason}"] == 1
    with pytest.raises(ValueError, match="not a review reason"):
        truth.review("dynamics", "dangling")


def test_an_unknown_table_is_named_with_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="matches, duplicates, drift, review, problems"):
        rf.table("buckets")
