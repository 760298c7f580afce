"""Whole jobs built from the pieces: what the CLI and notebooks call."""

from __future__ import annotations

from pathlib import Path

from recon.dynamics.files import read_dynamics
from recon.engine import Reconciliation, reconcile
from recon.fields import load_fields
from recon.strivacity.files import read_strivacity


def reconcile_files(dynamics: str | Path, strivacity: str | Path, out: str | Path,
                    fields: str | Path | None = None) -> tuple[Reconciliation, Path]:
    """Load two exports, reconcile them and write the run folder; returns the result and folder."""
    field_map = load_fields(fields)
    result = reconcile(read_dynamics(dynamics, fields=field_map),
                       read_strivacity(strivacity, fields=field_map), field_map)
    return result, result.write(out)
