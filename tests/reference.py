"""A plain-pandas reference of DESIGN §6: the oracle the engines are tested against.

``reference(dynamics, strivacity, fields)`` takes canonical frames (record ids unique per side,
as the loaders guarantee) and returns a dict of plain frames (object columns, ``None`` for a
missing value) with the columns and row order of the engine's ``Reconciliation``:
``buckets`` (Dynamics then Strivacity, input order), ``matches`` (by contactid),
``duplicates`` (by side, key, id), ``drift`` (by contactid, then field-map order), ``review``
(by side, id), ``problems`` (by side, id, field-map order), the four batches flat
(``migrate_to_strivacity``/``create_in_dynamics`` by id, ``update_dynamics`` in drift order,
``update_strivacity`` by account, field-map order, link last) and ``summary`` (summary.json).

Buckets, the first rule that fits deciding: (1) a link naming one existing contact that no
other account names pairs; a dangling link, and every account naming one contact and that
contact, go to review; (2) no key: missing_email / invalid_email; (3) a key another record of
the same side holds: duplicate_email (a linked member stays paired); (4) a key a record of
rule 1 holds: email_in_use; (5) a key two records of the other side hold: duplicate_email;
(6) a key one record of the other side holds: an email pair; (7) otherwise only, then a
Dynamics-only contact whose second or third address is a Strivacity-only account's key sends
both to review, and an enabled Strivacity-only account lacking a value Dynamics requires on
create goes to review.

Written for clarity, not speed: each rule is one small step over plain frames, decisions are
plain Python. It shares only normalisation (``recon.normalize``, one implementation by design)
and the field map with recon; nothing comes from ``recon.engine``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd

from recon import normalize
from recon.fields import DEFAULT_FIELDS, DYNAMICS_CREATE_REQUIRED, Field, FieldMap

DYNAMICS, STRIVACITY = "dynamics", "strivacity"
REVIEW_REASONS = ("dangling_link", "shared_link", "missing_email", "invalid_email",
                  "duplicate_email", "email_in_use", "secondary_email_match",
                  "missing_required_field")
BATCHES = ("migrate_to_strivacity", "create_in_dynamics", "update_dynamics", "update_strivacity")
CREATED_CONTACT_NAMESPACE = uuid.UUID("acc1f690-28a5-4fb2-b601-38d14e9ba346")
LANGUAGE = "en-US"
EMAIL_ID, PHONE_ID = "identities.email.id", "identities.phone.id"
DRIFT_COLUMNS = ["contactid", "strivacity_id", "email_key", "field", "dynamics_value",
                 "strivacity_value", "action", "reason"]


# --- plain values -------------------------------------------------------------------------

def plain(values: pd.Series) -> pd.Series:
    """A column as Python objects with ``None`` for missing (datetimes stay datetimes)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.reset_index(drop=True)
    out = values.astype(object)
    return out.where(out.notna(), None).reset_index(drop=True)


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({name: plain(frame[name]) for name in frame.columns})


def text(values: pd.Series) -> pd.Series:
    """DESIGN §4's text form: NFC, trimmed, inner whitespace collapsed; None when blank."""
    return plain(normalize.text(values.astype(object)))


def phone(values: pd.Series, region: str | None) -> pd.Series:
    return plain(normalize.phone(values.astype(object), region))


def blank(values: pd.Series) -> pd.Series:
    return text(values).isna()


def attribute_path(field: Field) -> str | None:
    """The Strivacity attribute a field is written to: its first path that is an attribute
    (``identities.*`` and ``enabled`` are parts of the account, not attributes)."""
    for path in field.strivacity:
        if not path.startswith(("identities.", "enabled")):
            return path
    return None


def source_column(field: Field) -> str:
    return "email" if field.comparer == "email" else field.name


def written(values: pd.Series, field: Field, target: str, region: str | None) -> pd.Series:
    """Source values as written to ``target``: never a key, never a blank or unusable value.
    Emails: the clean address; phones into Strivacity: E.164, into Dynamics: as held."""
    values = plain(values)
    if field.comparer == "email":
        valid = plain(normalize.email_key(values.astype(object))[0]).notna()
        return plain(normalize.email_address(values.astype(object))).where(valid, None)
    if field.comparer == "phone":
        e164 = phone(values, region)
        return e164 if target == STRIVACITY else values.where(e164.notna(), None)
    if field.comparer == "bool":
        return values
    return values.where(~blank(values), None)


def written_one(value: Any, field: Field, target: str, region: str | None) -> Any:
    return written(pd.Series([value], dtype=object), field, target, region).iloc[0]


def as_text(value: Any) -> str | None:
    """A drift value as text: booleans as ``true``/``false``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def created_contact_id(store: str, account_id: str) -> str:
    """The contactid a run fixes for the contact it creates from an account."""
    return str(uuid.uuid5(CREATED_CONTACT_NAMESPACE, f"{len(store)}:{store}:{account_id}"))


# --- buckets ------------------------------------------------------------------------------

def _state(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"record_id": frame["record_id"], "email_key": frame["email_key"],
                         "bucket": None, "reason": None}, dtype=object)


def _put(state: pd.DataFrame, mask: pd.Series, bucket: str, reason: str | None = None) -> None:
    """Give ``bucket`` (and ``reason``) to the records under ``mask`` no earlier rule decided."""
    free = mask & state["bucket"].isna()
    state.loc[free, "bucket"] = bucket
    state.loc[free, "reason"] = reason


def _links(d: pd.DataFrame, s: pd.DataFrame, ds: pd.DataFrame,
           ss: pd.DataFrame) -> pd.DataFrame:
    """Rule 1: link pairs; dangling and shared links go to review."""
    named = s.loc[s["link"].notna(), ["record_id", "link"]]
    found = named.merge(d[["record_id"]], left_on="link", right_on="record_id",
                        how="left", suffixes=("", "_contact"), indicator=True)
    dangling = found.loc[found["_merge"] == "left_only", "record_id"]
    resolved = found[found["_merge"] == "both"]
    accounts_per_contact = resolved.groupby("link")["record_id"].count()
    shared_contacts = accounts_per_contact[accounts_per_contact > 1].index
    shared = resolved[resolved["link"].isin(shared_contacts)]
    pairs = resolved[~resolved["link"].isin(shared_contacts)]
    _put(ss, ss["record_id"].isin(pairs["record_id"]), "matched")
    _put(ss, ss["record_id"].isin(shared["record_id"]), "review", "shared_link")
    _put(ss, ss["record_id"].isin(dangling), "review", "dangling_link")
    _put(ds, ds["record_id"].isin(pairs["link"]), "matched")
    _put(ds, ds["record_id"].isin(shared_contacts), "review", "shared_link")
    return pd.DataFrame({"match_type": "link", "contactid": pairs["link"],
                         "strivacity_id": pairs["record_id"]}, dtype=object)


def _email_rules(frame: pd.DataFrame, state: pd.DataFrame, same: pd.Series, other: pd.Series,
                 taken: set[str]) -> None:
    """Rules 2-7 for one side; ``same``/``other`` count records per key on each side."""
    key = state["email_key"]
    no_key = key.isna()
    status = plain(frame["email_status"])
    _put(state, no_key & (status.isna() | (status == "missing")), "review", "missing_email")
    _put(state, no_key, "review", "invalid_email")
    on_this_side = key.map(same).fillna(0)
    on_other_side = key.map(other).fillna(0)
    _put(state, on_this_side >= 2, "review", "duplicate_email")
    _put(state, key.isin(taken), "review", "email_in_use")
    _put(state, on_other_side >= 2, "review", "duplicate_email")
    _put(state, on_other_side == 1, "matched")
    _put(state, pd.Series(True, index=state.index), "only")


def _email_pairs(ds: pd.DataFrame, ss: pd.DataFrame, link_pairs: pd.DataFrame) -> pd.DataFrame:
    d = ds[(ds["bucket"] == "matched") & ~ds["record_id"].isin(link_pairs["contactid"])]
    s = ss[(ss["bucket"] == "matched") & ~ss["record_id"].isin(link_pairs["strivacity_id"])]
    pairs = d.merge(s, on="email_key", suffixes=("_d", "_s"))
    return pd.DataFrame({"match_type": "email", "contactid": pairs["record_id_d"],
                         "strivacity_id": pairs["record_id_s"]}, dtype=object)


def _secondary(d: pd.DataFrame, ds: pd.DataFrame, ss: pd.DataFrame) -> None:
    """A Dynamics-only contact whose second or third email is a Strivacity-only account's key:
    both to review (batching them would create the same person twice)."""
    only_d = d[ds["bucket"] == "only"]
    secondary = pd.concat([only_d[["record_id", c]].set_axis(["contact", "key"], axis=1)
                           for c in ("email2_key", "email3_key")]).dropna()
    only_s = ss.loc[ss["bucket"] == "only", ["record_id", "email_key"]]
    hits = secondary.merge(only_s, left_on="key", right_on="email_key")
    for state, ids in ((ds, hits["contact"]), (ss, hits["record_id"])):
        moved = state["record_id"].isin(ids)
        state.loc[moved, "bucket"] = "review"
        state.loc[moved, "reason"] = "secondary_email_match"


def _required(s: pd.DataFrame, ss: pd.DataFrame, fields: FieldMap) -> None:
    """An enabled Strivacity-only account lacking a value Dynamics needs on create: review."""
    lacking = pd.Series(False, index=s.index)
    for field in fields.fields:
        if field.dynamics in DYNAMICS_CREATE_REQUIRED:
            lacking |= blank(s[field.name])
    moved = (ss["bucket"] == "only") & (s["active"] == True) & lacking  # noqa: E712 (None)
    ss.loc[moved, "bucket"] = "review"
    ss.loc[moved, "reason"] = "missing_required_field"


def pairing(d: pd.DataFrame, s: pd.DataFrame,
            fields: FieldMap) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Both sides' states (bucket, reason per record) and the pairs, in rule order."""
    ds, ss = _state(d), _state(s)
    link_pairs = _links(d, s, ds, ss)
    decided = pd.concat([ds[ds["bucket"].notna()], ss[ss["bucket"].notna()]])
    taken = set(decided["email_key"].dropna())
    d_count, s_count = d["email_key"].value_counts(), s["email_key"].value_counts()
    _email_rules(d, ds, d_count, s_count, taken)
    _email_rules(s, ss, s_count, d_count, taken)
    email_pairs = _email_pairs(ds, ss, link_pairs)
    _secondary(d, ds, ss)
    _required(s, ss, fields)
    pairs = pd.concat([link_pairs, email_pairs], ignore_index=True)
    return ds, ss, pairs


# --- drift --------------------------------------------------------------------------------

def compared(values: pd.Series, keys: pd.Series, field: Field, region: str | None) -> pd.Series:
    """What a comparer compares: the email key, the text form, E.164 (an unreadable phone as
    its text form, so two spellings of one unreadable value are equal), or the flag."""
    if field.comparer == "email":
        return keys
    if field.comparer == "phone":
        e164 = phone(values, region)
        return e164.where(e164.notna(), text(values))
    if field.comparer == "text":
        return text(values)
    return plain(values)


def _blank_and_bad(p: pd.DataFrame, prefix: str, field: Field,
                   region: str | None) -> tuple[pd.Series, pd.Series]:
    """Per pair, whether one side's value is blank, and whether a present value is unusable
    (an invalid email, a phone that cannot be read): neither is ever written."""
    values = p[prefix + source_column(field)]
    if field.comparer == "email":
        status = p[prefix + "email_status"]
        return p[prefix + "email_key"].isna() & (status != "invalid"), status == "invalid"
    if field.comparer == "bool":
        return values.isna(), pd.Series(False, index=p.index)
    empty = blank(values)
    if field.comparer == "phone":
        return empty, ~empty & phone(values, region).isna()
    return empty, pd.Series(False, index=p.index)


def decide(field: Field, facts: dict[str, bool]) -> tuple[str, str | None]:
    """Action and reason of one differing value: the first reason that applies holds it."""
    newest = field.winner == "newest"
    s_wins = field.winner == STRIVACITY or (newest and facts["s_newer"])
    d_wins = field.winner == DYNAMICS or (newest and facts["d_newer"])

    def winner(fact: str) -> bool:
        return (s_wins and facts["s_" + fact]) or (d_wins and facts["d_" + fact])

    reasons = [
        ("duplicate_group", facts["grouped"]),
        ("winner_report", field.winner == "report"),
        ("no_newer_side", not s_wins and not d_wins),
        ("blank_winner", winner("blank")),
        ("invalid_email" if field.comparer == "email" else "unparseable_phone", winner("bad")),
        ("not_writable", d_wins and attribute_path(field) is None),
        ("email_in_use", winner("in_use")),
    ]
    for reason, applies in reasons:
        if applies:
            return "report", reason
    return ("update_dynamics" if s_wins else "update_strivacity"), None


def _holders(d: pd.DataFrame) -> pd.DataFrame:
    """Every (contact, email key) a contact holds: its primary, second and third address."""
    return pd.concat([d[["record_id", c]].set_axis(["record_id", "key"], axis=1)
                      for c in ("email_key", "email2_key", "email3_key")]).dropna()


def _facts(pair: pd.Series, field: Field, d: pd.DataFrame, s: pd.DataFrame) -> dict[str, bool]:
    """What decides one pair's differing value, beyond blank and bad: whether a record of the
    pair shares its key with another record of its side, which side is newer, and whether
    the winning address is held by another record of the side it would be written to."""
    d_key, s_key = pair["d_email_key"], pair["s_email_key"]
    d_group = d_key is not None and (d["email_key"] == d_key).sum() >= 2
    s_group = s_key is not None and (s["email_key"] == s_key).sum() >= 2
    contacts = _holders(d)
    other_contacts = contacts.loc[contacts["record_id"] != pair["contactid"], "key"]
    other_accounts = s.loc[s["record_id"] != pair["strivacity_id"], "email_key"].dropna()
    email = field.comparer == "email"
    return {"grouped": d_group or s_group,
            "d_newer": pair["d_updated_at"] > pair["s_updated_at"],
            "s_newer": pair["s_updated_at"] > pair["d_updated_at"],
            "s_in_use": email and s_key in set(other_contacts),
            "d_in_use": email and d_key in set(other_accounts)}


def _field_drift(p: pd.DataFrame, field: Field, d: pd.DataFrame, s: pd.DataFrame,
                 region: str | None) -> list[dict[str, Any]]:
    """Drift rows of one field over the pairs ``p`` (pair columns, then d_*/s_* columns)."""
    column = source_column(field)
    dc = compared(p["d_" + column], p["d_email_key"], field, region)
    sc = compared(p["s_" + column], p["s_email_key"], field, region)
    differ = ~((dc == sc) | (dc.isna() & sc.isna()))  # both blank: no drift
    d_blank, d_bad = _blank_and_bad(p, "d_", field, region)
    s_blank, s_bad = _blank_and_bad(p, "s_", field, region)
    rows = []
    for i in p.index[differ]:
        pair = p.loc[i]
        facts = {**_facts(pair, field, d, s), "d_blank": d_blank[i], "s_blank": s_blank[i],
                 "d_bad": d_bad[i], "s_bad": s_bad[i]}
        action, reason = decide(field, facts)
        rows.append({"contactid": pair["contactid"], "strivacity_id": pair["strivacity_id"],
                     "email_key": pair["email_key"], "field": field.name,
                     "dynamics_value": as_text(pair["d_" + column]),
                     "strivacity_value": as_text(pair["s_" + column]),
                     "action": action, "reason": reason})
    return rows


def drift(d: pd.DataFrame, s: pd.DataFrame, pairs: pd.DataFrame,
          fields: FieldMap) -> pd.DataFrame:
    """Per pair and field whose values differ, both values as held and what to do."""
    p = (pairs.merge(d.add_prefix("d_"), left_on="contactid", right_on="d_record_id")
         .merge(s.add_prefix("s_"), left_on="strivacity_id", right_on="s_record_id"))
    rows = []
    for order, field in enumerate(fields.fields):
        rows += [{**row, "order": order}
                 for row in _field_drift(p, field, d, s, fields.phone_region)]
    frame = pd.DataFrame(rows, columns=[*DRIFT_COLUMNS, "order"], dtype=object)
    frame = frame.sort_values(["contactid", "order"], kind="stable", ignore_index=True)
    return frame[DRIFT_COLUMNS]


# --- outputs ------------------------------------------------------------------------------

def _frame(rows: list[dict[str, Any]] | dict[str, Any], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns, dtype=object).reset_index(drop=True)


def buckets(ds: pd.DataFrame, ss: pd.DataFrame) -> pd.DataFrame:
    parts = [state.assign(side=side)[["side", "record_id", "bucket", "reason"]]
             for side, state in ((DYNAMICS, ds), (STRIVACITY, ss))]
    return pd.concat(parts, ignore_index=True)


def review(frames: dict[str, pd.DataFrame], states: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Held records, with the offending address of an invalid_email row."""
    parts = []
    for side in (DYNAMICS, STRIVACITY):
        held = states[side][states[side]["bucket"] == "review"].copy()
        email = frames[side]["email"][held.index]
        held["value"] = email.where(held["reason"] == "invalid_email", None)
        held["side"] = side
        parts.append(held.sort_values("record_id"))
    columns = ["side", "record_id", "email_key", "reason", "value"]
    return _frame(pd.concat(parts)[columns], columns)


def _survivor(group: pd.DataFrame) -> str:
    """The record to keep: active first, then the most recently updated, then the lowest id."""
    def rank(row: pd.Series) -> tuple:
        known = not pd.isna(row["updated_at"])
        return (row["active"] is not True, not known,
                -row["updated_at"].value if known else 0, row["record_id"])
    return str(min((row for _, row in group.iterrows()), key=rank)["record_id"])


def duplicates(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per side, every record whose key another record of that side also holds."""
    rows = []
    for side in (DYNAMICS, STRIVACITY):
        frame = frames[side]
        for key, group in frame.groupby("email_key"):
            if len(group) >= 2:
                survivor = _survivor(group)
                rows += [{"side": side, "email_key": key, "record_id": rid,
                          "group_size": len(group), "suggested_survivor": survivor}
                         for rid in group["record_id"]]
    columns = ["side", "email_key", "record_id", "group_size", "suggested_survivor"]
    return _frame(rows, columns).sort_values(["side", "email_key", "record_id"])


def problems(frames: dict[str, pd.DataFrame], fields: FieldMap) -> pd.DataFrame:
    """Every phone (of a ``phone`` field) that cannot be read, and why."""
    rows = []
    for side in (DYNAMICS, STRIVACITY):
        frame = frames[side]
        for order, field in enumerate(fields.fields):
            if field.comparer != "phone":
                continue
            why = plain(normalize.phone_problems(frame[field.name].astype(object),
                                                 fields.phone_region))
            rows += [{"side": side, "record_id": frame["record_id"][i], "field": field.name,
                      "value": frame[field.name][i], "reason": why[i], "order": order}
                     for i in frame.index[why.notna()]]
    columns = ["side", "record_id", "field", "value", "reason"]
    frame = _frame(rows, [*columns, "order"])
    return frame.sort_values(["side", "record_id", "order"], kind="stable")[columns]


# --- batches and summary ------------------------------------------------------------------

def _batched(frame: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    """The side's active ``only`` records, by record id: the ones a batch creates elsewhere."""
    chosen = frame[(state["bucket"] == "only") & (frame["active"] == True)]  # noqa: E712
    return chosen.sort_values("record_id", ignore_index=True)


def migrate_to_strivacity(d: pd.DataFrame, ds: pd.DataFrame, fields: FieldMap) -> pd.DataFrame:
    rows, region = _batched(d, ds), fields.phone_region

    def out_value(field: Field) -> pd.Series:
        return written(rows[source_column(field)], field, STRIVACITY, region)

    out = {"language": pd.Series([LANGUAGE] * len(rows), dtype=object),
           EMAIL_ID: out_value(fields["email"]), PHONE_ID: out_value(fields["phone"])}
    for field in fields.fields:
        path = attribute_path(field)
        if path is not None and field.comparer != "bool":
            out[path] = out_value(field)
    out[fields.link_attribute] = rows["record_id"]
    return pd.DataFrame(out, dtype=object)


def create_in_dynamics(s: pd.DataFrame, ss: pd.DataFrame, fields: FieldMap) -> pd.DataFrame:
    rows = _batched(s, ss)
    ids = [created_contact_id(store, account)
           for store, account in zip(rows["store"], rows["record_id"], strict=True)]
    out = {"strivacity_id": rows["record_id"], "contactid": pd.Series(ids, dtype=object)}
    for field in fields.fields:
        if field.comparer != "bool":
            out[field.dynamics] = written(rows[source_column(field)], field, DYNAMICS,
                                          fields.phone_region)
    return pd.DataFrame(out, dtype=object)


def update_dynamics(d: pd.DataFrame, changes: pd.DataFrame, fields: FieldMap) -> pd.DataFrame:
    etags = d.set_index("record_id")["etag"]
    rows = [{"contactid": row["contactid"], "etag": etags[row["contactid"]],
             "column": fields[row["field"]].dynamics,
             "new": written_one(row["strivacity_value"], fields[row["field"]], DYNAMICS,
                                fields.phone_region),
             "old": row["dynamics_value"]}
            for _, row in changes[changes["action"] == "update_dynamics"].iterrows()]
    return _frame(rows, ["contactid", "etag", "column", "new", "old"])


def update_strivacity(s: pd.DataFrame, pairs: pd.DataFrame, changes: pd.DataFrame,
                      created: pd.DataFrame, fields: FieldMap) -> pd.DataFrame:
    """Dynamics-winning drift, the link of email pairs whose account lacks one, and the link
    to each contact this run creates; per account in field-map order, the link last."""
    order = {field.name: i for i, field in enumerate(fields.fields)}
    link, last = fields.link_attribute, len(fields.fields)
    rows = [(row["strivacity_id"], order[row["field"]], attribute_path(fields[row["field"]]),
             written_one(row["dynamics_value"], fields[row["field"]], STRIVACITY,
                         fields.phone_region))
            for _, row in changes[changes["action"] == "update_strivacity"].iterrows()]
    links = s.set_index("record_id")["link"]
    rows += [(pair["strivacity_id"], last, link, pair["contactid"])
             for _, pair in pairs[pairs["match_type"] == "email"].iterrows()
             if links[pair["strivacity_id"]] is None]
    rows += [(new["strivacity_id"], last, link, new["contactid"]) for _, new in created.iterrows()]
    frame = pd.DataFrame(rows, columns=["accountId", "order", "attribute", "value"], dtype=object)
    frame["identityStore"] = frame["accountId"].map(s.set_index("record_id")["store"])
    frame = frame.sort_values(["accountId", "order"], kind="stable", ignore_index=True)
    return frame[["accountId", "identityStore", "attribute", "value"]]


def _side_summary(side: str, frame: pd.DataFrame, state: pd.DataFrame,
                  groups: pd.DataFrame) -> dict[str, Any]:
    buckets, reasons = state["bucket"].value_counts(), state["reason"].value_counts()
    return {"records": len(frame),
            **{b: int(buckets.get(b, 0)) for b in ("matched", "only", "review")},
            "duplicate_groups": groups.loc[groups["side"] == side, "email_key"].nunique(),
            "invalid_email": int(frame["email_key"].isna().sum()),
            "review_reasons": {r: int(reasons.get(r, 0)) for r in REVIEW_REASONS}}


def summary(out: dict[str, Any], frames: dict[str, pd.DataFrame],
            states: dict[str, pd.DataFrame], fields: FieldMap) -> dict[str, Any]:
    """summary.json (DESIGN §7): every reason, field and batch present, zero or not."""
    pairs, changes, found = out["matches"], out["drift"], out["problems"]
    by_link = int((pairs["match_type"] == "link").sum())
    lines = {"migrate_to_strivacity": len(out["migrate_to_strivacity"]),
             "create_in_dynamics": len(out["create_in_dynamics"]),
             "update_dynamics": out["update_dynamics"]["contactid"].nunique(),
             "update_strivacity": out["update_strivacity"]["accountId"].nunique()}
    return {
        **{side: _side_summary(side, frames[side], states[side], out["duplicates"])
           for side in (DYNAMICS, STRIVACITY)},
        "pairs": {"total": len(pairs), "by_link": by_link, "by_email": len(pairs) - by_link},
        "drift": {"pairs": changes["contactid"].nunique(),
                  "fields": {f.name: changes.loc[changes["field"] == f.name, "contactid"]
                             .nunique() for f in fields.fields}},
        "batches": {name: int(lines[name]) for name in BATCHES},
        "problems": {f.name: int((found["field"] == f.name).sum())
                     for f in fields.fields if f.comparer == "phone"},
    }


def reference(dynamics: pd.DataFrame, strivacity: pd.DataFrame,
              fields: FieldMap | None = None) -> dict[str, Any]:
    """DESIGN §6 over canonical frames: the frames and summary a Reconciliation exposes."""
    fields = fields or DEFAULT_FIELDS
    d, s = _plain_frame(dynamics), _plain_frame(strivacity)
    assert d["record_id"].is_unique and s["record_id"].is_unique, "record ids repeat"
    ds, ss, pairs = pairing(d, s, fields)
    pairs = pairs.merge(d[["record_id", "email_key"]], left_on="contactid",
                        right_on="record_id").drop(columns="record_id")
    s_keys = s.set_index("record_id")["email_key"]
    pairs["email_key"] = pairs["email_key"].where(pairs["email_key"].notna(),
                                                  pairs["strivacity_id"].map(s_keys))
    pairs = pairs.sort_values("contactid", ignore_index=True)
    frames, states = {DYNAMICS: d, STRIVACITY: s}, {DYNAMICS: ds, STRIVACITY: ss}
    out: dict[str, Any] = {
        "buckets": buckets(ds, ss),
        "matches": pairs[["match_type", "email_key", "contactid", "strivacity_id"]],
        "duplicates": duplicates(frames), "drift": drift(d, s, pairs, fields),
        "review": review(frames, states), "problems": problems(frames, fields),
        "migrate_to_strivacity": migrate_to_strivacity(d, ds, fields),
        "create_in_dynamics": create_in_dynamics(s, ss, fields)}
    out["update_dynamics"] = update_dynamics(d, out["drift"], fields)
    out["update_strivacity"] = update_strivacity(s, pairs, out["drift"],
                                                 out["create_in_dynamics"], fields)
    out["summary"] = summary(out, frames, states, fields)
    for name, frame in out.items():
        if isinstance(frame, pd.DataFrame):  # one spelling of missing: None, never NaN
            out[name] = _plain_frame(frame)
    out["duplicates"] = out["duplicates"].astype({"group_size": "int64"})
    return out
