"""Each notebook and its py:percent twin hold the same cells; notebooks are committed clean."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("*.ipynb"))


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_both_notebooks_exist() -> None:
    assert [p.name for p in PAIRS] == ["explore_matches.ipynb", "reconciliation_report.ipynb"]


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_notebook_and_script_are_in_sync(notebook: Path) -> None:
    script = notebook.with_suffix(".py")
    assert script.is_file(), f"{script.name} is missing: run `.venv/bin/jupytext --sync {notebook}`"
    fix = (f"{notebook.name} and {script.name} differ. Edited the .py? run "
           f"`.venv/bin/jupytext --to ipynb --update {script}`. Edited the .ipynb? run "
           f"`.venv/bin/jupytext --to py:percent {notebook}`.")
    assert _cells(jupytext.read(notebook)) == _cells(jupytext.read(script)), fix


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"cells {dirty} of {notebook.name} keep outputs: run "
                       f"`.venv/bin/jupyter nbconvert --clear-output --inplace {notebook}`")
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_parameters_have_types_and_help(notebook: Path) -> None:
    params = pm.inspect_notebook(str(notebook))
    assert params, f"{notebook.name} has no cell tagged 'parameters'"
    for name, spec in params.items():
        assert spec["inferred_type_name"] != "None", f"{name} in {notebook.name} has no type"
        assert spec["help"], f"{name} in {notebook.name} has no trailing comment"
