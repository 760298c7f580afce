"""Duplicate groups per side: records of one side sharing an email key, with a survivor.

The suggested survivor is the record to keep when an operator merges the group: active first,
then the most recently updated, then the smallest record id so the choice is deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.engine.keys import DYNAMICS, STRIVACITY
from recon.engine.pairing import Pairing
from recon.normalize import STRING
from recon.runfolder import columns

COLUMNS = columns("duplicates")


def _groups(frame: pd.DataFrame, codes: np.ndarray, counts: np.ndarray,
            side: str) -> pd.DataFrame:
    """Members of this side's duplicate groups, survivor first within each group."""
    members = np.flatnonzero(counts[codes] >= 2)
    group = frame.iloc[members][["email_key", "record_id", "updated_at"]].reset_index(drop=True)
    group["inactive"] = ~frame["active"].iloc[members].fillna(False).to_numpy(dtype=bool)
    group["group_size"] = counts[codes[members]].astype(np.int64)
    group = group.sort_values(["email_key", "inactive", "updated_at", "record_id"],
                              ascending=[True, True, False, True], na_position="last")
    group["suggested_survivor"] = _first_of_runs(group["email_key"], group["record_id"])
    group.insert(0, "side", side)
    return group


def _first_of_runs(keys: pd.Series, values: pd.Series) -> pd.Series:
    """For rows sorted by ``keys``, the ``values`` of each run's first row (a vectorised
    groupby-first; pandas' transform on Arrow strings is orders of magnitude slower)."""
    key = keys.to_numpy(dtype=object)
    starts = np.ones(len(key), dtype=bool)
    starts[1:] = key[1:] != key[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(key)), 0))
    return pd.Series(values.to_numpy(dtype=object)[first], index=values.index, dtype=values.dtype)


def duplicate_groups(dynamics: pd.DataFrame, strivacity: pd.DataFrame,
                     pairing: Pairing) -> pd.DataFrame:
    """Both sides' duplicate groups as rows of ``duplicates.csv``, sorted for diffing."""
    keys = pairing.keys
    parts = [_groups(dynamics, keys.dynamics, keys.count_dynamics, DYNAMICS),
             _groups(strivacity, keys.strivacity, keys.count_strivacity, STRIVACITY)]
    frame = pd.concat(parts, ignore_index=True)[list(COLUMNS)]
    for column in ("side", "email_key", "record_id", "suggested_survivor"):
        frame[column] = frame[column].astype(STRING)
    return frame.sort_values(["side", "email_key", "record_id"], ignore_index=True)
