"""Change-tracking state: the delta link and the snapshot of raw rows it continues from.

A tracked pull (``Prefer: odata.track-changes``) ends with an ``@odata.deltaLink``. The next
pull GETs that link and receives only changed rows and ``$deletedEntity`` ids; applying them to
the previous snapshot gives what a fresh full pull would (reference/dataverse.md §4). The state
file is JSON beside a Parquet snapshot; both are replaced atomically, snapshot first.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from recon.errors import ConfigError
from recon.private import atomic_path, private_dir

ID = "contactid"
STATE_VERSION = 1


class DeltaFallbackWarning(UserWarning):
    """The saved delta link was refused (expired or foreign); a full pull was made instead."""


@dataclass(frozen=True)
class DeltaState:
    """Where the last tracked pull left off."""

    delta_link: str
    snapshot: str
    api: str
    columns: tuple[str, ...]
    version: int = STATE_VERSION

    def continues(self, api: str, columns: Sequence[str]) -> bool:
        """Whether this state can continue a pull of ``columns`` from ``api``."""
        return (self.version == STATE_VERSION and self.api == api
                and tuple(self.columns) == tuple(columns) and Path(self.snapshot).exists())


def snapshot_path(state_path: str | Path) -> Path:
    """The Parquet snapshot that goes with a state file: same name, ``.parquet``."""
    return Path(state_path).with_suffix(".parquet")


def load_state(path: str | Path) -> DeltaState | None:
    """The saved state, or None when there is no state file yet."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DeltaState(delta_link=data["delta_link"], snapshot=data["snapshot"],
                          api=data["api"], columns=tuple(data["columns"]),
                          version=data.get("version", 0))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a recon delta state file ({exc}). Delete it to start "
                          "over with a full pull, or pass another --delta file.") from exc


def save_state(path: str | Path, delta_link: str, api: str, columns: Sequence[str],
               raw: pd.DataFrame) -> DeltaState:
    """Write the snapshot, then the state pointing at it; return the new state."""
    path = private_dir(Path(path).parent, narrow=False) / Path(path).name
    snapshot = snapshot_path(path)
    _replace(snapshot, lambda tmp: pq.write_table(pa.Table.from_pandas(raw, preserve_index=False),
                                                  tmp))
    state = DeltaState(delta_link, str(snapshot.resolve()), api, tuple(columns))
    text = json.dumps({**asdict(state), "columns": list(columns)}, indent=2)
    _replace(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return state


def read_snapshot(state: DeltaState) -> pd.DataFrame:
    """The raw rows saved by the last tracked pull."""
    return pq.read_table(state.snapshot).to_pandas(types_mapper=pd.ArrowDtype)


def apply_changes(previous: pd.DataFrame, changed: pd.DataFrame,
                  deleted: Iterable[str]) -> pd.DataFrame:
    """Previous rows minus deleted and changed ids, plus the changed rows; a new frame.

    Kept rows stay in their order; changed and new rows follow in the order they arrived.
    """
    gone = {i.lower() for i in deleted} | set(changed[ID].str.lower())
    kept = previous[~previous[ID].str.lower().isin(gone)]
    merged = pd.concat([kept, changed.drop_duplicates(ID, keep="last")], ignore_index=True)
    return merged[list(previous.columns)] if len(previous.columns) else merged


def warn_fallback(path: str | Path, reason: str) -> None:
    """Say that the delta link was refused and a full pull follows."""
    warnings.warn(f"{path}: the saved delta link was refused ({reason}); pulling everything "
                  "again and starting a new delta chain.", DeltaFallbackWarning, stacklevel=3)


def _replace(target: Path, write: Callable[[Path], object]) -> None:
    with atomic_path(target) as tmp:
        write(tmp)
