"""Files recon ships inside the package: the report notebooks and the sample tenant.

They are package data (``recon/notebooks/``, ``recon/data/sample/``), found with
``importlib.resources``, so a wheel install has them wherever site-packages is. In the repository
these are symlinks to the one committed copy at the top level (``notebooks/``, ``data/sample/``),
where JupyterLab, jupytext and nbval use them; building a wheel copies the files they point at.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from recon.errors import ConfigError

#: The notebooks recon ships, by what they are for.
NOTEBOOKS = {"report": "reconciliation_report.ipynb", "explore": "explore_matches.ipynb"}
SAMPLE_FILES = ("dynamics_contacts.csv", "strivacity_accounts.ndjson", "truth.json")


def package_path(*parts: str) -> Path:
    """A file of the installed package as a real path (papermill and pandas need one)."""
    resource = files("recon").joinpath(*parts)
    if not isinstance(resource, Path):
        raise ConfigError(f"recon's {'/'.join(parts)} is not a file on disk (is recon imported "
                          "from a zip?); install recon with pip so its data files are on disk.")
    return resource


def notebook(name: str) -> Path:
    """The shipped notebook ``name`` (``report`` or ``explore``)."""
    if name not in NOTEBOOKS:
        raise ConfigError(f"no notebook {name!r}; recon ships: {', '.join(NOTEBOOKS)}.")
    return package_path("notebooks", NOTEBOOKS[name])


def sample_dir() -> Path:
    """The folder of the bundled sample tenant (contacts CSV, accounts NDJSON, truth.json)."""
    return package_path("data", "sample")


def default_runs_dir(start: Path | None = None) -> Path:
    """``data/runs`` of the nearest folder at or above ``start`` (the cwd) that has one.

    As git finds ``.git``: a notebook running in ``notebooks/`` finds the project's runs, and a
    command run anywhere else gets ``./data/runs``.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / "runs").is_dir():
            return folder / "data" / "runs"
    return here / "data" / "runs"
