"""The public API is pinned: a change to ``recon.__all__`` must be made here on purpose."""

from __future__ import annotations

import subprocess
import sys

import recon

PINNED = [
    "DEFAULT_FIELDS", "ApplyOptions", "AuthError", "ConfigError", "Emulator", "Faults", "Field",
    "FieldMap", "HttpError", "InputError", "ReconError", "Reconciliation", "ReportOptions",
    "apply_run", "generate_sample", "latest_run", "load_fields", "lookup", "open_run",
    "pull_dynamics", "pull_strivacity", "read_dynamics", "read_strivacity", "reconcile",
    "reconcile_files", "run_report",
]


def test_all_is_pinned_and_sorted() -> None:
    assert recon.__all__ == PINNED
    assert recon.__all__ == sorted(recon.__all__, key=lambda n: (not n.isupper(), n))


def test_every_public_name_resolves() -> None:
    for name in recon.__all__:
        assert getattr(recon, name) is not None, name


def test_importing_recon_loads_neither_pandas_nor_matplotlib() -> None:
    code = "import sys, recon; print('pandas' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_errors_share_one_root() -> None:
    for error in (recon.InputError, recon.ConfigError, recon.HttpError, recon.AuthError):
        assert issubclass(error, recon.ReconError)
