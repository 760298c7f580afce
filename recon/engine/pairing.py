"""Put every record of each side in exactly one bucket, and pair the matched ones (DESIGN §6).

Rules apply in this order; the first that fits a record decides its bucket:

1. link: an account whose ``link`` names exactly one existing contact, and that no other
   account names, pairs with it (``matched``) whatever the emails say. An account whose link
   names no contact goes to review ``dangling_link``; when several accounts name one contact,
   all of them and the contact go to review ``shared_link``.
2. missing/invalid email: review ``missing_email`` / ``invalid_email``.
3. a key held by another record of the same side: review ``duplicate_email`` (a linked member
   of the group stays paired by its link and only the others are held; that pair's drift is
   reported, never batched, until the group is resolved).
4. a key also held by a record that rule 1 paired or held: review ``email_in_use``.
5. a key held by two or more records of the other side: review ``duplicate_email``.
6. a key held by exactly one record of the other side: ``matched`` (an email pair).
7. otherwise ``only``; then a Dynamics-only contact whose ``email2_key``/``email3_key`` is the
   key of a Strivacity-only account sends both to review ``secondary_email_match``, and an
   enabled Strivacity-only account without a value Dynamics requires on create goes to review
   ``missing_required_field`` (it could not be created, so it is not "only").

Everything is numpy over positions and integer key codes: no per-row Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recon import normalize
from recon.engine.keys import KeyCodes, encode_keys, lookup, per_code, strings
from recon.parallel import threads
from recon.runfolder import BUCKETS, REVIEW_REASONS

MATCHED, ONLY, REVIEW = (BUCKETS.index(b) for b in ("matched", "only", "review"))
REASONS = REVIEW_REASONS  # codes are positions in the contract's order (recon.runfolder)
_R = {name: code for code, name in enumerate(REASONS)}
_UNSET = -1


@dataclass(frozen=True)
class Side:
    """Bucket and review-reason codes of one side, by position (reason -1 when none)."""

    bucket: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True)
class Pairing:
    """The outcome of pairing: both sides' buckets and the pairs as positions."""

    dynamics: Side
    strivacity: Side
    pair_dynamics: np.ndarray
    pair_strivacity: np.ndarray
    pair_by_link: np.ndarray
    keys: KeyCodes


def _new_side(size: int) -> Side:
    return Side(np.full(size, _UNSET, np.int8), np.full(size, _UNSET, np.int8))


def _assign(side: Side, mask: np.ndarray, bucket: int, reason: str | None = None) -> None:
    """Give ``bucket`` (and ``reason``) to the still-unassigned records under ``mask``."""
    free = mask & (side.bucket == _UNSET)
    side.bucket[free] = bucket
    if reason is not None:
        side.reason[free] = _R[reason]


def _link_targets(dynamics: pd.DataFrame, strivacity: pd.DataFrame) -> np.ndarray:
    """Contact position each account's link names; -1 for no link or a dangling one."""
    has_link = strivacity["link"].notna().to_numpy()
    target = np.full(len(strivacity), -1, np.int64)
    links = strings(strivacity["link"]).filter(pa.array(has_link))
    target[has_link] = lookup(links, strings(dynamics["record_id"]))
    return target


def _links(dynamics: pd.DataFrame, strivacity: pd.DataFrame,
           d: Side, s: Side) -> tuple[np.ndarray, np.ndarray]:
    """Rule 1: link pairs, and review for dangling and shared links."""
    target = _link_targets(dynamics, strivacity)
    has_link = strivacity["link"].notna().to_numpy()
    resolved = target >= 0
    per_contact = np.bincount(target[resolved], minlength=len(dynamics) + 1)  # -1: last slot
    shared = resolved & (per_contact[target] > 1)
    linked = resolved & ~shared
    pair_s = np.flatnonzero(linked)
    pair_d = target[pair_s]
    d_linked = np.zeros(len(dynamics), bool)
    d_linked[pair_d] = True
    d_shared = np.zeros(len(dynamics), bool)
    d_shared[target[shared]] = True
    _assign(s, linked, MATCHED)
    _assign(s, shared, REVIEW, "shared_link")
    _assign(s, has_link & ~resolved, REVIEW, "dangling_link")
    _assign(d, d_linked, MATCHED)
    _assign(d, d_shared, REVIEW, "shared_link")
    return pair_d, pair_s


def _emails(frame: pd.DataFrame, side: Side, codes: np.ndarray, same: np.ndarray,
            other: np.ndarray, taken: np.ndarray) -> None:
    """Rules 2-7 for one side, given key counts of this side (``same``) and the other."""
    no_key = codes < 0
    missing = (frame["email_status"] == "missing").fillna(True).to_numpy(dtype=bool)
    _assign(side, no_key & missing, REVIEW, "missing_email")
    _assign(side, no_key, REVIEW, "invalid_email")
    _assign(side, same[codes] >= 2, REVIEW, "duplicate_email")
    _assign(side, taken[codes], REVIEW, "email_in_use")
    _assign(side, other[codes] >= 2, REVIEW, "duplicate_email")
    _assign(side, other[codes] == 1, MATCHED)
    _assign(side, np.ones(len(codes), bool), ONLY)


def _taken(keys: KeyCodes, d: Side, s: Side) -> np.ndarray:
    """Key codes held by a record that the link rule already decided."""
    taken = per_code(keys, False)
    for codes, side in ((keys.dynamics, d), (keys.strivacity, s)):
        decided = (side.bucket != _UNSET) & (codes >= 0)
        taken[codes[decided]] = True
    return taken


def _email_pairs(keys: KeyCodes, d: Side, s: Side, link_d: np.ndarray,
                 link_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of email pairs: matched records that the link rule did not pair."""
    d_email = d.bucket == MATCHED
    d_email[link_d] = False
    s_email = s.bucket == MATCHED
    s_email[link_s] = False
    by_code = per_code(keys, -1)
    s_pos = np.flatnonzero(s_email)
    by_code[keys.strivacity[s_pos]] = s_pos
    d_pos = np.flatnonzero(d_email)
    return d_pos, by_code[keys.dynamics[d_pos]]


def _secondary(dynamics: pd.DataFrame, strivacity: pd.DataFrame, d: Side, s: Side) -> None:
    """Hold a Dynamics-only contact and the Strivacity-only account its secondary email names."""
    s_only = np.flatnonzero(s.bucket == ONLY)
    only_keys = strings(strivacity["email_key"]).take(pa.array(s_only))
    only = d.bucket == ONLY  # before this loop moves any: a contact may name two accounts
    for column in ("email2_key", "email3_key"):
        d_only = np.flatnonzero(only & dynamics[column].notna().to_numpy())
        if len(d_only) == 0:
            continue
        found = pc.index_in(strings(dynamics[column]).take(pa.array(d_only)), value_set=only_keys)
        found = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        hit = found >= 0
        for side, where in ((d, d_only[hit]), (s, s_only[found[hit]])):
            side.bucket[where] = REVIEW
            side.reason[where] = _R["secondary_email_match"]


def _required(strivacity: pd.DataFrame, s: Side, required: Sequence[str]) -> None:
    """Hold enabled Strivacity-only accounts that lack a value Dynamics needs on create."""
    enabled = strivacity["active"].fillna(False).to_numpy(dtype=bool)
    lacking = np.zeros(len(strivacity), bool)
    for column in required:  # a value of only spaces is no value either
        lacking |= normalize.text(strivacity[column]).isna().to_numpy()
    mask = (s.bucket == ONLY) & enabled & lacking
    s.bucket[mask] = REVIEW
    s.reason[mask] = _R["missing_required_field"]


def pair(dynamics: pd.DataFrame, strivacity: pd.DataFrame,
         required: Sequence[str] = ()) -> Pairing:
    """Bucket both sides and pair them; ``required`` names canonical columns needed on create."""
    d, s = _new_side(len(dynamics)), _new_side(len(strivacity))
    with threads() as pool:  # the key codes only read the emails: made beside the links
        encoded = pool.submit(encode_keys, dynamics["email_key"], strivacity["email_key"])
        link_d, link_s = _links(dynamics, strivacity, d, s)
        keys = encoded.result()
    taken = _taken(keys, d, s)
    _emails(dynamics, d, keys.dynamics, keys.count_dynamics, keys.count_strivacity, taken)
    _emails(strivacity, s, keys.strivacity, keys.count_strivacity, keys.count_dynamics, taken)
    email_d, email_s = _email_pairs(keys, d, s, link_d, link_s)
    _secondary(dynamics, strivacity, d, s)
    _required(strivacity, s, required)
    return Pairing(d, s, np.concatenate([link_d, email_d]), np.concatenate([link_s, email_s]),
                   np.concatenate([np.ones(len(link_d), bool), np.zeros(len(email_d), bool)]),
                   keys)
