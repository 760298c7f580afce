"""recon.report over a hand-written run folder (DESIGN §7): tables, charts, history, look-ups."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recon import report as rr
from recon.errors import ConfigError
from recon.normalize import STRING


def _summary(records: int = 4, drift_pairs: int = 1, dup_groups: int = 1) -> dict:
    side = {"records": records, "matched": 2, "only": 1, "review": records - 3,
            "duplicate_groups": dup_groups, "invalid_email": 0,
            "review_reasons": {"duplicate_email": records - 3}}
    return {"dynamics": side,
            "strivacity": {**side, "duplicate_groups": 0, "review_reasons": {"missing_email": 1}},
            "pairs": {"total": 2, "by_link": 1, "by_email": 1},
            "drift": {"pairs": drift_pairs, "fields": {"city": 1, "given_name": 2}},
            "batches": {"migrate_to_strivacity": 1, "create_in_dynamics": 1,
                        "update_dynamics": 1, "update_strivacity": 0}}


def _write_run(folder: Path, summary: dict, started: str | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    if started:
        (folder / "run.json").write_text(json.dumps({"started": started}))
    (folder / "matches.csv").write_text(
        "match_type,email_key,contactid,strivacity_id\n"
        "email,ann@x.com,d1,s1\nlink,bob@x.com,d2,s2\n")
    (folder / "duplicates.csv").write_text(
        "side,email_key,record_id,group_size,suggested_survivor\n"
        "dynamics,cy@x.com,d4,2,d3\ndynamics,cy@x.com,d3,2,d3\n")
    (folder / "drift.csv").write_text(
        "contactid,strivacity_id,email_key,field,dynamics_value,strivacity_value,action\n"
        "d1,s1,ann@x.com,given_name,Anne,Ann,update_dynamics\n"
        "d2,s2,bob@x.com,given_name,Bob,Robert,update_dynamics\n"
        "d2,s2,bob@x.com,city,=cmd(),Paris,update_dynamics\n")
    (folder / "review.csv").write_text(
        "side,record_id,email_key,reason\n"
        "dynamics,d3,cy@x.com,duplicate_email\ndynamics,d4,cy@x.com,duplicate_email\n"
        "strivacity,s9,,missing_email\n")
    return folder


def _side(ids: list[str], emails: list[str | None], given: list[str], family: list[str]
          ) -> pd.DataFrame:
    return pd.DataFrame({"record_id": pd.array(ids, dtype=STRING),
                         "email": pd.array(emails, dtype=STRING),
                         "email_key": pd.array([e.lower() if e else None for e in emails],
                                               dtype=STRING),
                         "given_name": pd.array(given, dtype=STRING),
                         "family_name": pd.array(family, dtype=STRING)})


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return _write_run(tmp_path / "20260101T000000Z", _summary())


@pytest.fixture
def view(run_dir: Path) -> rr.RunView:
    dyn = _side(["d1", "d2", "d3", "d4", "d5"],
                ["Ann@x.com", "bob@x.com", "cy@x.com", "cy@x.com", "dee@x.com"],
                ["Anne", "Bob", "Cy", "Cy", "Dee"], ["Roe", "Smith", "Lee", "Lee", "Diaz"])
    stv = _side(["s1", "s2", "s9"], ["ann@x.com", "robert@x.com", None],
                ["Ann", "Robert", "Nobody"], ["Roe", "Smith", "Known"])
    (run_dir / "sources").mkdir()
    dyn.to_parquet(run_dir / rr.SOURCE_FILES["dynamics"])
    stv.to_parquet(run_dir / rr.SOURCE_FILES["strivacity"])
    return rr.open_run(run_dir)


def test_open_run_reads_the_four_tables_and_the_side_snapshots(view: rr.RunView) -> None:
    assert list(view.matches.columns) == ["match_type", "email_key", "contactid", "strivacity_id"]
    assert view.duplicates["group_size"].tolist() == [2, 2]
    assert view.review["email_key"].isna().tolist() == [False, False, True]
    assert view.dynamics is not None and len(view.dynamics) == 5
    assert view.path is not None and view.path.name == "20260101T000000Z"


def test_open_run_refuses_a_folder_without_summary(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no summary.json.*latest run"):
        rr.open_run(tmp_path)


def test_headline_has_counts_per_side_and_match_rate() -> None:
    table = rr.headline(_summary(records=4))
    assert table.loc["Dynamics", "records"] == 4
    assert table.loc["Strivacity", "duplicate_groups"] == 0
    assert table.loc["Dynamics", "match_rate_%"] == 50.0
    assert str(table["matched"].dtype) == "int64"


def test_pairs_and_batches_and_drift_by_field_follow_the_summary() -> None:
    figures = rr.pairs_and_batches(_summary())["count"]
    assert figures["pairs.by_link"] == 1 and figures["drift.pairs"] == 1
    assert figures["batches.migrate_to_strivacity"] == 1
    assert rr.drift_by_field(_summary())["field"].tolist() == ["given_name", "city"]


def test_review_reasons_fill_missing_sides_with_zero() -> None:
    table = rr.review_reasons(_summary())
    assert table.loc["duplicate_email"].tolist() == [1, 0]
    assert table.loc["missing_email"].tolist() == [0, 1]


def test_duplicate_groups_one_row_per_group_with_survivor(view: rr.RunView) -> None:
    groups = rr.duplicate_groups(view.duplicates)
    assert groups.to_dict("records") == [
        {"side": "dynamics", "email_key": "cy@x.com", "group_size": 2, "survivor": "d3"}]


def test_duplicate_groups_also_read_a_true_false_survivor_flag() -> None:
    flags = pd.DataFrame({"side": ["strivacity"] * 2, "email_key": ["z@x.com"] * 2,
                          "record_id": ["s7", "s8"], "group_size": [2, 2],
                          "suggested_survivor": ["false", "true"]})
    assert rr.duplicate_groups(flags)["survivor"].tolist() == ["s8"]


def test_examples_are_stable_and_per_group(view: rr.RunView) -> None:
    per_field = rr.examples(view.drift, 1, by="field")
    assert per_field["field"].tolist() == ["city", "given_name"]
    assert per_field["contactid"].tolist() == ["d2", "d1"]
    assert len(rr.examples(view.drift, 2)) == 2


def test_charts_draw_what_the_summary_says() -> None:
    overlap = rr.overlap_chart(_summary())
    widths = [bar.get_width() for bar in overlap.axes[0].patches]
    assert widths == [2, 2, 1, 1, 1, 1]  # matched, only, review for each side
    drift = rr.drift_chart(_summary())
    assert sorted(bar.get_width() for bar in drift.axes[0].patches) == [1, 2]
    chart = rr.as_png(drift)
    assert chart.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'alt="Matched pairs with a difference, per field"' in chart._repr_html_()


def test_history_lists_finished_runs_oldest_first(tmp_path: Path) -> None:
    _write_run(tmp_path / "20260102T000000Z", _summary(drift_pairs=5), "2026-01-02T00:00:00Z")
    # the first run has no run.json: its start comes from the folder's stamp
    _write_run(tmp_path / "20260101T000000Z", _summary(drift_pairs=3, dup_groups=2))
    (tmp_path / "20260103T000000Z-failed").mkdir()  # no summary.json: not a finished run
    history = rr.run_history(tmp_path)
    assert history["run"].tolist() == ["20260101T000000Z", "20260102T000000Z"]
    assert history["drift_pairs"].tolist() == [3, 5]
    assert history["duplicate_groups"].tolist() == [2, 1]
    assert history["started"].tolist() == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]
    assert rr.latest_run(tmp_path) == tmp_path / "20260102T000000Z"
    chart = rr.history_chart(history)
    assert list(chart.axes[1].lines[0].get_ydata()) == [3, 5]


def test_history_of_a_missing_runs_folder_is_empty(tmp_path: Path) -> None:
    assert rr.run_history(tmp_path / "nope").empty
    assert rr.latest_run(tmp_path / "nope") is None


def test_find_person_by_name_shows_both_sides_and_their_drift(view: rr.RunView) -> None:
    found = rr.find_person(view, "smith")
    assert found.records[["side", "record_id", "status", "partner_id"]].values.tolist() == [
        ["dynamics", "d2", "matched", "s2"], ["strivacity", "s2", "matched", "d2"]]
    assert sorted(found.drift["field"]) == ["city", "given_name"]


def test_find_person_by_email_any_case_gives_status_of_unpaired(view: rr.RunView) -> None:
    found = rr.find_person(view, "CY@X")
    assert found.records["status"].tolist() == ["duplicate_email", "duplicate_email"]
    assert found.drift.empty
    assert rr.find_person(view, "dee@").records["status"].tolist() == ["only"]
    assert rr.find_person(view, "Nobody").records["status"].tolist() == ["missing_email"]


def test_find_person_without_snapshots_searches_the_run_files(run_dir: Path) -> None:
    view = rr.open_run(run_dir)
    assert view.dynamics is None
    assert rr.find_person(view, "bob@").records["record_id"].tolist() == ["d2", "s2"]


def test_find_person_refuses_an_empty_query(view: rr.RunView) -> None:
    with pytest.raises(ConfigError, match="query is empty"):
        rr.find_person(view, "  ")


def test_drift_for_filters_and_names_valid_fields(view: rr.RunView) -> None:
    assert rr.drift_for(view.drift, "city")["contactid"].tolist() == ["d2"]
    assert len(rr.drift_for(view.drift)) == 3
    with pytest.raises(ConfigError, match="fields with drift: city, given_name"):
        rr.drift_for(view.drift, "phone")


def test_export_csv_neutralises_formulas_and_keeps_blanks_empty(view: rr.RunView,
                                                                tmp_path: Path) -> None:
    selection = view.review.copy()
    before = selection.copy()
    path = rr.export_csv(rr.drift_for(view.drift, "city"), tmp_path / "out" / "city.csv")
    text = path.read_text(encoding="utf-8")
    assert "'=cmd()" in text and ",=cmd()" not in text
    rr.export_csv(selection, tmp_path / "review.csv")
    assert (tmp_path / "review.csv").read_text().splitlines()[-1] == "strivacity,s9,,missing_email"
    pd.testing.assert_frame_equal(selection, before)


def test_load_sides_refuses_unknown_source_and_half_files() -> None:
    with pytest.raises(ConfigError, match="valid: sample, live, files"):
        rr.load_sides("ftp")
    with pytest.raises(ConfigError, match="both dynamics_path and strivacity_path"):
        rr.load_sides("files", dynamics_path="a.csv")
