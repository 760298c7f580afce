"""Apply's plan: each batch line as an operation; a create uses the contactid the run fixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon.apply.plan import operations
from recon.errors import InputError

FIXED = "0b6d3f1e-4c1b-5f11-840a-000d3a5c1234"


def _run(tmp_path: Path, *lines: dict) -> Path:
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "create_in_dynamics.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return tmp_path


def test_a_create_line_keeps_the_contactid_the_run_fixed(tmp_path: Path) -> None:
    run = _run(tmp_path, {"contactid": FIXED, "lastname": "Roe"},
               {"contactid": "{" + FIXED.upper().replace("1234", "5678") + "}", "lastname": "X"})
    first, second = operations(run, "create_in_dynamics")
    assert (first.record, first.body) == (FIXED, {"lastname": "Roe", "contactid": FIXED})
    assert second.record == FIXED.replace("1234", "5678")  # braces and case as Dataverse reads


def test_a_line_without_contactid_gets_one_derived_from_the_file(tmp_path: Path) -> None:
    run = _run(tmp_path, {"lastname": "Roe"})
    (op,) = operations(run, "create_in_dynamics")
    assert op.record == op.body["contactid"] and op.record != FIXED
    assert operations(run, "create_in_dynamics")[0].record == op.record  # stable


@pytest.mark.parametrize("bad", ["c1", "not-a-guid", "0b6d3f1e4c1b5f11840a000d3a5c1234x"])
def test_a_contactid_that_is_not_a_guid_is_refused(tmp_path: Path, bad: str) -> None:
    run = _run(tmp_path, {"lastname": "Roe"}, {"contactid": bad, "lastname": "X"})
    with pytest.raises(InputError) as err:
        operations(run, "create_in_dynamics")
    assert (err.value.line, err.value.column) == (2, "contactid")
