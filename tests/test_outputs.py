"""The run folder writer and the CSV safety rules (the contract itself: tests/test_runfolder.py)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from canonical import dynamics, strivacity
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.engine import reconcile
from recon.normalize import STRING
from recon.outputs import import_cells, safe_cells, safe_csv
from recon.runfolder import BATCHES, BATCHES_DIR, SUMMARY_FILE, columns, table
from recon.runwriter import write_texts


def _result():
    d = dynamics({"id": "c1", "email": "a@x.com", "given_name": "=HYPERLINK(1)",
                  "family_name": "Roe", "phone": "+12025550100", "city": "Paris"},
                 {"id": "c2", "email": "m@x.com", "family_name": "-Minus", "phone": "+33612345678",
                  "street": "1, Main St"},
                 {"id": "c3", "email": "bad"})
    s = strivacity({"id": "a1", "email": "a@x.com", "given_name": "Ann", "family_name": "Roe",
                    "city": "Lyon"},
                   {"id": "a2", "email": "n@x.com", "family_name": "New"})
    return reconcile(d, s)


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_summary_json_counts_problems_per_phone_field_zero_or_not(tmp_path: Path) -> None:
    summary = json.loads((_result().write(tmp_path) / SUMMARY_FILE).read_text())
    assert summary["problems"] == {"phone": 0}


def test_batch_files_hold_one_json_object_per_counted_line(tmp_path: Path) -> None:
    result = _result()
    folder = result.write(tmp_path)
    for name, batch in BATCHES.items():
        lines = (folder / BATCHES_DIR / batch.file).read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == list(result.batch_lines(name))
        assert len(lines) == result.summary["batches"][name]


def test_empty_batches_still_exist(tmp_path: Path) -> None:
    folder = reconcile(dynamics(), strivacity()).write(tmp_path)
    for batch in BATCHES.values():
        assert (folder / BATCHES_DIR / batch.file).read_text() == ""
    assert _rows(folder / "batches" / "migrate_to_strivacity.csv")[0][0] == "language"


def test_migrate_csv_is_import_safe(tmp_path: Path) -> None:
    folder = _result().write(tmp_path)
    text = (folder / "batches" / "migrate_to_strivacity.csv").read_text(encoding="utf-8")
    rows = _rows(folder / "batches" / "migrate_to_strivacity.csv")
    header, row = rows[0], rows[1]
    cell = dict(zip(header, row, strict=True))
    assert cell["identities.phone.id"] == "+33612345678"  # E.164 kept verbatim
    assert cell["name.familyName"] == "-Minus"  # an import file is exact: never neutralised
    assert cell["name.middleName"] == ""  # missing: empty, never null/NaN
    assert cell["addresses.streetAddress"] == "1, Main St"
    for bad in ("null", "NaN", "nan", "n/a", "<NA>", " ,", ", "):
        assert bad not in text.replace("1, Main St", "")


def test_drift_csv_neutralises_formulas(tmp_path: Path) -> None:
    rows = _rows(_result().write(tmp_path) / "drift.csv")
    assert ["c1", "a1", "a@x.com", "given_name", "'=HYPERLINK(1)", "Ann", "update_dynamics",
            ""] in rows


@pytest.mark.parametrize(("value", "written"), [
    ("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\nx"), ("a\r\nb", "a\nb"),
    ("+12025550100", "'+12025550100"), ("+1 512 555 0101", "'+1 512 555 0101"),
    ("004930123456", "'004930123456"), ("15125550100", "15125550100"),
    ("151255501001", "'151255501001"), ("78701", "78701"), ("0", "0"),
    ("  padded  ", "padded"), ("plain", "plain"), (None, ""),
])
def test_safe_csv_cells(tmp_path: Path, value: str | None, written: str) -> None:
    path = safe_csv(pd.DataFrame({"v": pd.Series([value], dtype=object)}), tmp_path / "x.csv")
    assert _rows(path)[1] == [written]


def test_safe_csv_numbers_bools_and_times(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "big": [12345678901234.0, np.nan], "n": [1, 2], "flag": pd.array([True, None], "boolean"),
        "at": pd.to_datetime(["2024-03-01T10:00:00Z", None], utc=True)})
    rows = _rows(safe_csv(frame, tmp_path / "x.csv"))
    assert rows == [["big", "n", "flag", "at"], ["'12345678901234", "1", "true",
                                                 "2024-03-01T10:00:00Z"], ["", "2", "", ""]]
    assert "\r" not in (tmp_path / "x.csv").read_text()


def test_writing_twice_gives_identical_files(tmp_path: Path) -> None:
    result = _result()
    a, b = result.write(tmp_path / "a"), result.write(tmp_path / "b")
    for path in a.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (b / path.relative_to(a)).read_bytes(), path.name


_CELLS = st.one_of(st.none(), st.sampled_from(['a"b', "a,b", "x\ny", "x\r\ny", "\rq", "=1",
                                               " +1 ", "+12025550100", "", " ", "ü"]),
                   st.text(max_size=6))


def _csv_module(frame: pd.DataFrame) -> bytes:
    """What Python's csv module (pandas' writer) makes of the safe cells: the reference."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([str(c) for c in frame.columns])
    cells = [safe_cells(pa.Array.from_pandas(frame[c])).to_pylist() for c in frame.columns]
    writer.writerows(zip(*cells, strict=True))
    return out.getvalue().encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_CELLS, _CELLS), max_size=6), st.sampled_from([1, 2]))
def test_safe_csv_quotes_as_the_csv_module(tmp_path_factory: pytest.TempPathFactory,
                                           rows: list[tuple[str | None, str | None]],
                                           width: int) -> None:
    frame = pd.DataFrame({name: pd.Series([r[i] for r in rows], dtype=STRING)
                          for i, name in enumerate(["a,b", "c"][:width])})
    path = safe_csv(frame, tmp_path_factory.mktemp("csv") / "x.csv")
    assert path.read_bytes() == _csv_module(frame)


def test_a_lone_empty_cell_is_quoted_as_csv_does(tmp_path: Path) -> None:
    path = safe_csv(pd.DataFrame({"v": pd.Series(["", "x"], dtype=STRING)}), tmp_path / "x.csv")
    assert path.read_bytes() == b'v\n""\nx\n'


def test_write_texts_writes_one_line_each(tmp_path: Path) -> None:
    assert write_texts(pa.array(['{"a":1}', "{}"]), tmp_path / "a").read_bytes() == \
        b'{"a":1}\n{}\n'
    assert write_texts(pa.array([], pa.string()), tmp_path / "b").read_bytes() == b""
    with pytest.raises(ValueError, match="c: line 2 of a chunk has no text"):
        write_texts(pa.array(["{}", None]), tmp_path / "c")


# --- import files are exact, people files are safe (issue 10, point 6) ----------------------

_AWKWARD = ["-Smith", "=1+2", "+Plus", "@At", "O'Brien", "Zoë", "1, Main St"]


def _awkward_result():  # type: ignore[no-untyped-def]
    rows = [{"id": f"c{n}", "email": f"p{n}@x.com", "family_name": name,
             "phone": "+1 512 555 0101" if n == 0 else None}
            for n, name in enumerate(_AWKWARD)]
    return reconcile(dynamics(*rows, {"id": "c9", "email": "not an address"}), strivacity())


def test_migrate_csv_carries_exact_values_and_passes_the_import_validator(
        tmp_path: Path) -> None:
    folder = _awkward_result().write(tmp_path)
    path = folder / "batches" / "migrate_to_strivacity.csv"
    header, *rows = _rows(path)
    names = [dict(zip(header, row, strict=True))["name.familyName"] for row in rows]
    assert names == _AWKWARD  # sorted by contact id c0..c6, each exactly as Dynamics holds it
    assert rows[0][header.index("identities.phone.id")] == "+15125550101"
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines:  # Strivacity's import_validator rules (reference/strivacity.md §4.1)
        assert not re.search(r'(\s+"?,|,"?\s+)', line.replace('"1, Main St"', "x"))
        assert not re.search(r"\d\.\d+E\+\d+", line, re.IGNORECASE)
        assert not {"null", "n/a", "#n/a"} & {c.lower() for c in line.split(",")}
    ndjson = (folder / "batches" / "migrate_to_strivacity.ndjson").read_text(encoding="utf-8")
    assert [json.loads(x)["local"]["metadata"]["name"]["familyName"]
            for x in ndjson.splitlines()] == _AWKWARD


def test_people_files_neutralise_formulas_and_keep_phones_as_text(tmp_path: Path) -> None:
    d = dynamics({"id": "c1", "email": "a@x.com", "family_name": "-Smith",
                  "phone": "+15125550100", "postal_code": "02134"})
    s = strivacity({"id": "a1", "email": "a@x.com", "link": "c1", "family_name": "=X",
                    "phone": "+15125550199", "postal_code": "2134"})
    rows = _rows(reconcile(d, s).write(tmp_path) / "drift.csv")[1:]
    cells = {row[3]: (row[4], row[5]) for row in rows}
    assert cells["family_name"] == ("'-Smith", "'=X")
    assert cells["phone"] == ("'+15125550100", "'+15125550199")  # never 1.51256E+10
    assert cells["postal_code"] == ("'02134", "2134")  # a leading zero is kept


def test_import_cells_trim_only_edge_whitespace_and_never_prefix() -> None:
    values = pd.Series([" -Smith ", "=1+2", "\u00a0Ann\u00a0", "a  b", None, "+12025550100"],
                       dtype=STRING)
    assert import_cells(pa.Array.from_pandas(values)).to_pylist() == [
        "-Smith", "=1+2", "Ann", "a  b", "", "+12025550100"]


def test_review_shows_the_offending_value_of_invalid_emails(tmp_path: Path) -> None:
    rows = _rows(_awkward_result().write(tmp_path) / table("review")[0])
    assert rows == [list(columns("review")),
                    ["dynamics", "c9", "", "invalid_email", "not an address"]]


def test_review_value_is_neutralised_for_people(tmp_path: Path) -> None:
    r = reconcile(dynamics({"id": "c1", "email": "=HYPERLINK(1)"}, {"id": "c2"}), strivacity())
    rows = _rows(r.write(tmp_path) / "review.csv")
    assert rows[1:] == [["dynamics", "c1", "", "invalid_email", "'=HYPERLINK(1)"],
                        ["dynamics", "c2", "", "missing_email", ""]]


def test_problems_csv_lists_every_unreadable_phone_neutralised(tmp_path: Path) -> None:
    d = dynamics({"id": "c1", "email": "a@x.com", "phone": "=2+3"},
                 {"id": "c2", "email": "b@x.com", "phone": "(415) 555-0100"})
    s = strivacity({"id": "a1", "email": "z@x.com", "family_name": "Z", "phone": "12"})
    folder = reconcile(d, s).write(tmp_path)
    header, *rows = _rows(folder / "problems.csv")
    assert tuple(header) == columns("problems")
    assert [row[:4] for row in rows] == [["dynamics", "c1", "phone", "'=2+3"],
                                         ["dynamics", "c2", "phone", "(415) 555-0100"],
                                         ["strivacity", "a1", "phone", "12"]]
    assert all(row[4] for row in rows)
    assert json.loads((folder / "summary.json").read_text())["problems"] == {"phone": 3}


def test_a_run_read_back_for_display_shows_values_not_the_spreadsheet_guard(
        tmp_path: Path) -> None:
    # The people CSVs carry a ' before formulas and lossy numbers; the report and the
    # explorer read them back and must show the values themselves.
    from recon.report import open_run

    d = dynamics({"id": "c1", "email": "a@x.com", "family_name": "-Smith",
                  "phone": "+15125550101"}, {"id": "c2", "email": "=HYPERLINK(1)"})
    s = strivacity({"id": "a1", "email": "a@x.com", "link": "c1", "family_name": "O'Brien",
                    "phone": "+15125550199"})
    folder = reconcile(d, s).write(tmp_path)
    assert "'+15125550101" in (folder / "drift.csv").read_text(encoding="utf-8")
    view = open_run(folder)
    values = set(view.drift["dynamics_value"]) | set(view.drift["strivacity_value"])
    assert {"-Smith", "O'Brien", "+15125550101", "+15125550199"} <= values
    assert "=HYPERLINK(1)" in set(view.review["value"].dropna())


@pytest.mark.parametrize("value", ["=cmd", "+15125550101", "-Smith", "@x", "0123",
                                   "123456789012", "O'Brien", "'quoted", "plain"])
def test_reading_people_cells_undoes_exactly_what_writing_added(value: str) -> None:
    from recon.outputs import read_people_cells

    written = safe_cells(pa.array([value], pa.string())).to_pylist()[0]
    assert read_people_cells(pd.Series([written], dtype="string")).iloc[0] == value
