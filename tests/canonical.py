"""Build canonical frames for tests from short dicts, through recon.normalize so keys are real.

    dynamics({"id": "c1", "email": "Jo@X.com", "family_name": "Roe"}, ...)
    strivacity({"id": "a1", "email": "jo@x.com", "link": "c1", "enabled": False}, ...)

Short names: ``id``, ``email``, any mapped field (``given_name`` ... ``country``), ``active``
(Dynamics) / ``enabled`` (Strivacity), ``updated`` / ``created`` (ISO strings), ``email2`` /
``email3`` and ``etag`` (Dynamics), ``link``, ``verified`` and ``store`` (Strivacity; default
``"default"``), and ``raw_*``. Mapped fields keep the value given, as a loader keeps the
source's own value.
``synthetic(n)`` builds a large pair of frames for timing runs without per-row Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon import normalize
from recon.fields import DYNAMICS_COLUMNS, MAPPED, STRIVACITY_COLUMNS
from recon.normalize import STRING

_DEFAULT_TIME = "2024-01-01T00:00:00Z"


def _column(rows: tuple[dict[str, Any], ...], name: str, default: Any = None) -> pd.Series:
    return pd.Series([row.get(name, default) for row in rows], dtype=object)


def _base(rows: tuple[dict[str, Any], ...], active_name: str) -> dict[str, pd.Series]:
    key, status = normalize.email_key(_column(rows, "email"))
    cols: dict[str, pd.Series] = {
        "record_id": _column(rows, "id").astype(STRING),
        "email": _column(rows, "email").astype(STRING),
        "email_key": key, "email_status": status,
    }
    for name in MAPPED:
        cols[name] = _column(rows, name).astype(STRING)
    cols["active"] = _column(rows, active_name, True).astype("boolean")
    for name, short in (("created_at", "created"), ("updated_at", "updated")):
        stamps = pd.to_datetime(_column(rows, short, _DEFAULT_TIME), utc=True, format="ISO8601")
        cols[name] = stamps.astype("datetime64[ns, UTC]")
    return cols


def _finish(cols: dict[str, pd.Series], rows: tuple[dict[str, Any], ...],
            order: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame({name: cols[name].reset_index(drop=True) for name in order})
    raw = sorted({k for row in rows for k in row if k.startswith("raw_")})
    for name in raw:
        frame[name] = _column(rows, name).astype(STRING)
    return frame


def dynamics(*rows: dict[str, Any]) -> pd.DataFrame:
    """A canonical Dynamics frame, one row per dict."""
    cols = _base(rows, "active")
    cols["etag"] = _column(rows, "etag").astype(STRING)
    cols["email2_key"] = normalize.email_key(_column(rows, "email2"))[0]
    cols["email3_key"] = normalize.email_key(_column(rows, "email3"))[0]
    return _finish(cols, rows, DYNAMICS_COLUMNS)


def strivacity(*rows: dict[str, Any]) -> pd.DataFrame:
    """A canonical Strivacity frame, one row per dict."""
    cols = _base(rows, "enabled")
    cols["email_verified"] = _column(rows, "verified", False).astype("boolean")
    cols["link"] = _column(rows, "link").astype(STRING)
    cols["store"] = _column(rows, "store", "default").astype(STRING)
    return _finish(cols, rows, STRIVACITY_COLUMNS)


def _strings(*parts: str | np.ndarray) -> pd.Series:
    """Element-wise concatenation of literals and integer/str arrays, as a STRING series."""
    arrays = [p if isinstance(p, str) else pa.array(p).cast(pa.string()) for p in parts]
    joined = pc.binary_join_element_wise(*arrays, "")
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([joined])))


def synthetic(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` contacts and ``n`` accounts: ~80% shared emails, some drift, links, duplicates."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    s_ids = np.where(rng.random(n) < 0.8, ids, ids + n)  # 20% Strivacity-only
    s_ids[rng.random(n) < 0.002] = 7  # a few accounts share one key: a duplicate group
    names = np.array(["Ann", "Bob", "Cy", "Dee", "Eve"])
    stamp = pd.Series(pd.DatetimeIndex([pd.Timestamp("2024-01-01", tz="UTC")] * n).as_unit("ns"))
    frames = []
    for side, key_ids in (("d", ids), ("s", s_ids)):
        given = names[key_ids % 5]
        if side == "s":
            given = np.where(rng.random(n) < 0.05, "Changed", given)
        email = _strings("user", key_ids, "@example.com")
        cols = {"record_id": _strings(side, ids), "email": email, "email_key": email,
                "email_status": _strings(np.full(n, "ok"))}
        for name in MAPPED:
            cols[name] = _strings(given) if name == "given_name" else _strings(name, key_ids % 97)
        cols["active"] = pd.Series(rng.random(n) < 0.95, dtype="boolean")
        cols["created_at"] = stamp
        cols["updated_at"] = stamp + pd.to_timedelta(rng.integers(0, 10**6, n), "s")
        frames.append(cols)
    d, s = frames
    d["etag"] = _strings('W/"', ids, '"')
    d["email2_key"] = pd.Series([None] * n, dtype=STRING)
    d["email3_key"] = d["email2_key"]
    s["email_verified"] = pd.Series(np.ones(n, bool), dtype="boolean")
    linked = rng.random(n) < 0.1
    s["link"] = _strings("d", ids).where(pd.Series(linked), None)
    s["store"] = _strings(np.full(n, "default"))
    return (pd.DataFrame({c: d[c] for c in DYNAMICS_COLUMNS}),
            pd.DataFrame({c: s[c] for c in STRIVACITY_COLUMNS}))


def first_sync(s: pd.DataFrame) -> pd.DataFrame:
    """The accounts as in a first sync (``benchmarks.tenants.first_sync``): every mapped value
    different from the contact's, each still a plain value; a phone's last digit moved on."""
    s = s.copy()
    for column in MAPPED:
        if column == "phone":
            s[column] = s[column].astype(object).map(
                lambda v: v if pd.isna(v) or not v[-1:].isdigit()
                else v[:-1] + str((int(v[-1]) + 1) % 10)).astype(STRING)
        else:
            s[column] = (s[column] + " II").fillna("Other").astype(STRING)
    return s
