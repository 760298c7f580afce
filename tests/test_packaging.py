"""environment.yml and pyproject.toml must name the same packages at the same floors."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {s.replace(" ", "").lower() for s in specs}


def _environment() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    specs = re.findall(r"^\s+- ([A-Za-z][^\s#]*)\s*$", pip_section, flags=re.MULTILINE)
    return {s.lower() for s in specs}


def test_environment_lists_the_same_packages_as_pyproject() -> None:
    env, py = _environment(), _pyproject()
    assert env == py, (f"only in environment.yml: {sorted(env - py)}; "
                       f"only in pyproject: {sorted(py - env)}")
