"""Whole jobs built from the pieces: what the CLI and notebooks call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from recon.dynamics.files import read_dynamics
from recon.engine import Reconciliation, reconcile
from recon.fields import FieldMap, load_fields
from recon.strivacity.files import read_strivacity


def read_both(dynamics: str | Path, strivacity: str | Path,
              fields: FieldMap) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both exports, read side by side: pyarrow parses one while Python normalises the other."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-read") as pool:
        accounts = pool.submit(read_strivacity, strivacity, fields=fields)
        try:
            contacts = read_dynamics(dynamics, fields=fields)
        except BaseException:
            accounts.cancel()
            raise
        return contacts, accounts.result()


def reconcile_files(dynamics: str | Path, strivacity: str | Path, out: str | Path,
                    fields: str | Path | None = None) -> tuple[Reconciliation, Path]:
    """Load two exports, reconcile them and write the run folder; returns the result and folder."""
    field_map = load_fields(fields)
    # The loaded frames are let go once reconciled: writing needs only the result.
    result = reconcile(*read_both(dynamics, strivacity, field_map), field_map)
    return result, result.write(out)
