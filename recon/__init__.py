"""recon: reconcile Dynamics 365 contacts with Strivacity accounts.

``import recon`` is the notebook API; ``recon`` on the command line is the same API's CLI.
Names load on first use, so importing recon stays cheap (no pandas or matplotlib at import).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from recon.errors import AuthError, ConfigError, HttpError, InputError, ReconError
from recon.fields import DEFAULT_FIELDS, Field, FieldMap, load_fields

__version__ = "0.1.0"

#: Public name -> "module:attribute", imported on first access.
_LAZY = {
    "ApplyOptions": "recon.apply:ApplyOptions",
    "Emulator": "recon.emulator:Emulator",
    "Faults": "recon.emulator:Faults",
    "Reconciliation": "recon.engine:Reconciliation",
    "ReportOptions": "recon.runner:ReportOptions",
    "apply_run": "recon.apply:apply_run",
    "generate_sample": "recon.sample:generate",
    "latest_run": "recon.report:latest_run",
    "lookup": "recon.dynamics.pull:lookup",
    "open_run": "recon.report:open_run",
    "pull_dynamics": "recon.dynamics.pull:pull_dynamics",
    "pull_strivacity": "recon.strivacity.pull:pull_strivacity",
    "read_dynamics": "recon.dynamics.files:read_dynamics",
    "read_strivacity": "recon.strivacity.files:read_strivacity",
    "reconcile": "recon.engine:reconcile",
    "reconcile_files": "recon.api:reconcile_files",
    "run_report": "recon.runner:run_report",
}

__all__ = [
    "DEFAULT_FIELDS",
    "ApplyOptions",
    "AuthError",
    "ConfigError",
    "Emulator",
    "Faults",
    "Field",
    "FieldMap",
    "HttpError",
    "InputError",
    "ReconError",
    "Reconciliation",
    "ReportOptions",
    "apply_run",
    "generate_sample",
    "latest_run",
    "load_fields",
    "lookup",
    "open_run",
    "pull_dynamics",
    "pull_strivacity",
    "read_dynamics",
    "read_strivacity",
    "reconcile",
    "reconcile_files",
    "run_report",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name].split(":")
    except KeyError:
        raise AttributeError(f"module 'recon' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
