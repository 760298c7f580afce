"""Matched pairs: positions into each side for the engine, and ``matches.csv`` for people."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon.engine.keys import series, sort_indices, take
from recon.engine.pairing import Pairing
from recon.parallel import threads
from recon.runfolder import MATCH_EMAIL, MATCH_LINK, columns

COLUMNS = columns("matches")


@dataclass(frozen=True)
class Pairs:
    """Matched pairs in contact-position order (cheap, sequential takes), with ``rank``: each
    pair's row in ``frame``, which is sorted by contact id for output. ``in_duplicate_group``
    marks link pairs whose contact or account shares its email with another record of its side."""

    dynamics: np.ndarray
    strivacity: np.ndarray
    by_link: np.ndarray
    in_duplicate_group: np.ndarray
    rank: np.ndarray
    frame: pd.DataFrame


def matched_pairs(dynamics: pd.DataFrame, strivacity: pd.DataFrame, pairing: Pairing) -> Pairs:
    """The pairs; a link pair's email key is the contact's, else the account's."""
    order = np.argsort(pairing.pair_dynamics, kind="stable")
    d_pos, s_pos = pairing.pair_dynamics[order], pairing.pair_strivacity[order]
    by_link = pairing.pair_by_link[order]
    contactid = take(dynamics["record_id"], d_pos)
    by_id = sort_indices(contactid)
    rank = np.empty(len(by_id), np.int64)
    rank[by_id] = np.arange(len(by_id))
    d_sorted, s_sorted = d_pos[by_id], s_pos[by_id]
    keys = pairing.keys
    code = keys.dynamics[d_sorted]  # the contact's key, else the account's
    code = np.where(code >= 0, code, keys.strivacity[s_sorted])
    match_type = pc.take(pa.array([MATCH_EMAIL, MATCH_LINK]),
                         pa.array(by_link[by_id].astype(np.int8)))
    with threads() as pool:  # three string gathers of every pair: side by side
        key = pool.submit(keys.dictionary.take, pa.array(code, mask=code < 0))
        contacts = pool.submit(contactid.take, pa.array(by_id))
        accounts = take(strivacity["record_id"], s_sorted)
        frame = pd.DataFrame({"match_type": series(match_type), "email_key": series(key.result()),
                              "contactid": series(contacts.result()),
                              "strivacity_id": series(accounts)})
    grouped = (keys.count_dynamics[keys.dynamics[d_pos]] >= 2) \
        | (keys.count_strivacity[keys.strivacity[s_pos]] >= 2)
    return Pairs(d_pos, s_pos, by_link, grouped, rank, frame)
