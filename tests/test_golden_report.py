"""The golden report: the sample report's committed outputs, re-run by nbval with a sanitize file.

tests/golden/reconciliation_report.ipynb is notebooks/reconciliation_report.ipynb executed on the
sample tenant. `pytest --nbval` re-executes it and compares every output, after the regexes of
tests/nbval_sanitize.cfg, with what is committed. To accept an intended change:
    RECON_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_report.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "reconciliation_report.ipynb"
GOLDEN = ROOT / "tests" / "golden" / "reconciliation_report.ipynb"
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
REGENERATE = "RECON_UPDATE_GOLDEN"
HOW = f"run `{REGENERATE}=1 .venv/bin/pytest tests/test_golden_report.py` and review the diff"
# A folder that never exists, so the history section is the same on every machine.
PARAMETERS = {"runs_dir": "no-earlier-runs"}


def _sources(path: Path) -> list[str]:
    cells = nbformat.read(path, as_version=4).cells
    return [c.source for c in cells if "injected-parameters" not in c.metadata.get("tags", [])]


@pytest.fixture(scope="module", autouse=True)
def regenerate() -> None:
    if os.environ.get(REGENERATE) == "1":
        import papermill as pm

        pm.execute_notebook(str(NOTEBOOK), str(GOLDEN), parameters=PARAMETERS,
                            cwd=str(GOLDEN.parent), progress_bar=False, kernel_name="python3")


def test_golden_is_the_current_report_notebook() -> None:
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: {HOW}"
    assert _sources(GOLDEN) == _sources(NOTEBOOK), f"the report notebook changed: {HOW}"


def test_golden_report_outputs_are_reproduced() -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0", "RECON_PROGRESS": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
         "--nbval-current-env", f"--nbval-sanitize-with={SANITIZE}", "-o", "addopts=",
         str(GOLDEN)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"the sample report's outputs changed ({HOW}):\n"
                                  f"{proc.stdout[-4000:]}")
