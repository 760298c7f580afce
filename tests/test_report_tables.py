"""The report reads like a report: plain labels, every reason explained, tables that fit, charts
with whole-number ticks and lines that stay visible, the real source named."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recon import report as rr
from recon import report_tables as rt
from recon import wording
from recon.display import Table, cell_text
from recon.engine import drift as engine_drift
from recon.engine import pairing, reconcile
from recon.fields import load_fields


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> rr.RunView:
    fields = load_fields(None)
    dynamics, strivacity = rr.load_sides("sample", fields=fields)
    return rr.save_run(reconcile(dynamics, strivacity, fields), dynamics, strivacity,
                       tmp_path_factory.mktemp("run"))


def _batch_lines(view: rr.RunView, name: str) -> int:
    assert view.path is not None
    return len((view.path / "batches" / name).read_text(encoding="utf-8").splitlines())


# ---------------------------------------------------------------- every reason explained


@pytest.mark.parametrize("reason", pairing.REASONS)
def test_every_review_reason_of_the_engine_has_a_label_and_an_explanation(reason: str) -> None:
    label, text = wording.REVIEW_REASONS[reason]
    assert label and label != reason and len(text) > 40


@pytest.mark.parametrize("reason", engine_drift.REASONS)
def test_every_drift_reason_of_the_engine_has_a_label_and_an_explanation(reason: str) -> None:
    label, text = wording.DRIFT_REASONS[reason]
    assert label and label != reason and len(text) > 30


def test_review_table_explains_each_reason_present_and_leaves_out_zeros() -> None:
    side = {"review_reasons": {"shared_link": 2, "missing_email": 0}}
    table = rt.review({"dynamics": side, "strivacity": {"review_reasons": {"email_in_use": 1}}})
    rows = table.frame.set_index("Reason")
    assert list(rows.index) == ["Link shared by several accounts", "Email already paired"]
    assert rows.loc["Email already paired", "Strivacity"] == 1
    assert rows.loc["Email already paired", "What it means and what to do"] \
        == wording.REVIEW_REASONS["email_in_use"][1]


def test_review_examples_and_drift_use_labels_not_codes(sample_run: rr.RunView) -> None:
    shown = repr(rt.review_examples(sample_run.review)) + repr(rt.drift_examples(sample_run.drift))
    for code in (*pairing.REASONS, "update_dynamics", "update_strivacity", "given_name"):
        assert code not in shown, code
    assert "Link to a missing contact" in shown and "Only reported: Winner is blank" in shown


def test_drift_reasons_table_counts_the_reasons_of_this_run(sample_run: rr.RunView) -> None:
    expected = sample_run.drift["reason"].dropna().value_counts()
    frame = rt.drift_reasons(sample_run.drift).frame
    assert dict(zip(frame["Why only reported"], frame["Rows"], strict=True)) == {
        wording.drift_label(r): n for r, n in expected.items()}
    assert frame["What it means"].str.len().min() > 30


# ---------------------------------------------------------------- why update_strivacity is large


def test_update_strivacity_parts_add_up_to_the_batch_file(sample_run: rr.RunView) -> None:
    parts = rt.strivacity_update_parts(sample_run.summary, sample_run.drift).set_index("Part")
    lines = _batch_lines(sample_run, "update_strivacity.ndjson")
    assert parts.loc["Update Strivacity", "Lines"] == lines
    assert parts["Lines"].iloc[:-1].sum() == lines and "Other lines" not in parts.index
    assert parts.loc["Link for accounts paired by email", "Lines"] \
        == sample_run.summary["pairs"]["by_email"] > 0
    assert parts.loc["Link for accounts whose contact this run creates", "Lines"] \
        == sample_run.summary["batches"]["create_in_dynamics"] > 0


def test_update_strivacity_parts_count_fields_dynamics_wins(tmp_path: Path) -> None:
    fields = load_fields(None)
    fields = dataclasses.replace(fields, fields=tuple(
        dataclasses.replace(f, winner="dynamics") if f.name in ("city", "given_name") else f
        for f in fields.fields))
    dynamics, strivacity = rr.load_sides("sample", fields=fields)
    view = rr.save_run(reconcile(dynamics, strivacity, fields), dynamics, strivacity, tmp_path)
    parts = rt.strivacity_update_parts(view.summary, view.drift).set_index("Part")["Lines"]
    assert parts["Fields Dynamics wins"] > 0
    assert parts.iloc[:-1].sum() == parts["Update Strivacity"] \
        == _batch_lines(view, "update_strivacity.ndjson")
    assert f"{parts['Fields Dynamics wins']:,} are fields Dynamics wins" in repr(
        rt.strivacity_updates_note(view.summary, view.drift))


def test_a_remainder_the_parts_do_not_explain_is_shown_not_hidden() -> None:
    summary = {"pairs": {"by_email": 2}, "batches": {"create_in_dynamics": 1,
                                                     "update_strivacity": 5}}
    parts = rt.strivacity_update_parts(summary, pd.DataFrame({"action": ["report"]}))
    assert parts.set_index("Part").loc["Other lines", "Lines"] == 2


# ---------------------------------------------------------------- tables that fit the page


def test_tables_have_no_index_no_nan_and_ids_on_one_line(sample_run: rr.RunView) -> None:
    tables = [rt.headline(sample_run.summary), rt.pairs(sample_run.summary),
              rt.batches(sample_run.summary), rt.drift_fields(sample_run.summary,
                                                              sample_run.drift),
              rt.drift_examples(sample_run.drift), rt.review_examples(sample_run.review),
              rt.match_examples(sample_run.matches),
              rt.duplicates(rr.duplicate_groups(sample_run.duplicates))]
    for table in tables:
        page = table._repr_html_()
        assert not re.search(r"\b(nan|NaN|<NA>|None)\b", page + repr(table)), page
        assert "<th></th>" not in page and "dataframe" not in page  # no pandas index
        assert "table-layout:auto" in page
    review = rt.review_examples(sample_run.review)._repr_html_()
    assert re.search(r'<td class="id">[0-9a-f-]{36}</td>', review)
    assert "white-space:nowrap" in review


def test_drift_examples_leave_the_long_ids_to_drift_csv(sample_run: rr.RunView) -> None:
    frame = rt.drift_examples(sample_run.drift).frame
    assert list(frame.columns) == ["Field", "Email", "Dynamics holds", "Strivacity holds",
                                   "What happens"]
    blank = sample_run.drift["dynamics_value"].isna()
    assert blank.any() and "" in repr(rt.drift_examples(sample_run.drift))


def test_cells_show_blanks_empty_and_numbers_with_separators() -> None:
    assert [cell_text(v) for v in (None, np.nan, pd.NA, 1592, np.int64(2000), 79.64, 3.0,
                                   True, "x")] == ["", "", "", "1,592", "2,000", "79.6", "3",
                                                   "yes", "x"]
    table = Table(pd.DataFrame({"Email": ["a@x.com", None], "Pairs": [1000, 2]}))
    assert repr(table) == "  Email Pairs\na@x.com 1,000\n            2"


def test_headline_uses_plain_labels_and_a_percent(sample_run: rr.RunView) -> None:
    frame = rt.headline(sample_run.summary).frame
    assert list(frame["System"]) == ["Dynamics contacts", "Strivacity accounts"]
    assert "Only in this system" in frame.columns and frame["Match rate"].iloc[0] == "79.6 %"


# ---------------------------------------------------------------- the source named


def test_a_live_source_names_the_tenants_and_what_they_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "https://org.crm4.dynamics.com")
    monkeypatch.setenv("STRIVACITY_URL", "https://acme.strivacity.com")
    monkeypatch.setenv("STRIVACITY_STORE", "customers")
    text = repr(rt.source_note("live", source_name="the recon emulator",
                               read_at="2026-01-01T06:00:00Z"))
    assert text.startswith("Data: Live pull from the recon emulator: Dataverse "
                           "https://org.crm4.dynamics.com; Strivacity https://acme.strivacity.com,"
                           " identity store customers. Read at 2026-01-01T06:00:00Z.")
    assert "none kept" in text


def test_files_and_sample_sources_say_which_files(tmp_path: Path) -> None:
    files = repr(rt.source_note("files", "/x/d.csv", "/x/s.ndjson", run_path=tmp_path))
    assert "Export files: Dynamics /x/d.csv; Strivacity /x/s.ndjson." in files
    assert str(tmp_path) in files
    assert "bundled sample tenant" in repr(rt.source_note("sample"))


# ---------------------------------------------------------------- charts


def _history(values: list[tuple[float, float, int, int]]) -> pd.DataFrame:
    return pd.DataFrame([{"run": f"2026010{n}T000000Z", "started": None,
                          "dynamics_match_rate_%": d, "strivacity_match_rate_%": s,
                          "drift_pairs": p, "duplicate_groups": g, "review": 0}
                         for n, (d, s, p, g) in enumerate(values, start=1)])


@pytest.mark.parametrize("rows", [[(80.0, 80.0, 2, 1)],
                                  [(80.0, 80.0, 2, 1), (81.0, 81.0, 3, 1), (81.0, 79.0, 1, 0)],
                                  [(50.0, 90.0, 1200, 7)] * 30])
def test_history_chart_counts_have_whole_number_ticks(rows: list) -> None:
    fig = rr.history_chart(_history(rows))
    fig.canvas.draw()
    for ax in fig.axes[1:]:
        ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert all(re.fullmatch(r"[\d,]+", t.get_text()) for t in ax.get_yticklabels()
                   if t.get_text())
    assert len([t for t in fig.axes[2].get_xticklabels() if t.get_text()]) <= 15


def test_equal_match_rates_draw_two_lines_that_both_show() -> None:
    fig = rr.history_chart(_history([(80.0, 80.0, 2, 1), (80.0, 80.0, 2, 1)]))
    dynamics, strivacity = fig.axes[0].get_lines()
    assert dynamics.get_linestyle() != strivacity.get_linestyle()
    assert dynamics.get_marker() != strivacity.get_marker()
    # the top line is thinner with smaller markers, so the one under it stays visible
    assert strivacity.get_linewidth() < dynamics.get_linewidth()
    assert strivacity.get_markersize() < dynamics.get_markersize()
    low, high = fig.axes[0].get_ylim()
    assert low < 80 < high <= 101


def test_drift_chart_labels_fields_in_words_with_whole_number_ticks() -> None:
    fig = rr.drift_chart({"drift": {"fields": {"given_name": 3, "postal_code": 1}}})
    fig.canvas.draw()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Postal code", "Given name"]
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_an_invalid_email_shows_its_value_in_the_review_examples() -> None:
    # It has no key, so the table would show a blank; review.csv's value says what is held.
    rows = pd.DataFrame({"side": ["dynamics", "strivacity"], "record_id": ["c1", "a1"],
                         "email_key": [None, "ok@x.com"],
                         "reason": ["invalid_email", "dangling_link"],
                         "value": ["jo@@example", None]})
    frame = rt.review_examples(rows).frame
    assert dict(zip(frame["Record id"], frame["Email"], strict=True)) == {
        "c1": "jo@@example", "a1": "ok@x.com"}
