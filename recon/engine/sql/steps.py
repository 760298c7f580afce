"""DESIGN §6 pairing as named SQL steps, in the order of ``recon.engine.pairing``'s rules.

Inputs: ``d`` (contacts) and ``s`` (accounts), the canonical columns plus ``pos`` (the row's
position in the frame given) and ``updated_ns`` (``updated_at`` as epoch nanoseconds). Every
bucket step gives ``pos, bucket, reason``; the first rule that fits a record decides it. Joins
on records go by ``pos`` (integers); only keys and ids join as strings, each once where it can.
Steps written once for both sides take the side's table and the other's as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

from recon.engine.sql.pipeline import Pipeline
from recon.fields import MAPPED

OTHER = {"d": "s", "s": "d"}


def record_columns(alias: str) -> str:
    """The columns of a record that batches may carry (a field's values are mapped columns),
    not the whole record."""
    return ", ".join(f"{alias}.{c}" for c in ("pos", "record_id", "email", *MAPPED, "active"))


def links(p: Pipeline) -> None:
    """Rule 1: an account's link names a contact (the last one, if ids repeat)."""
    p.enqueue_sql("""
        SELECT s.pos AS s_pos, MAX(c.pos) AS d_pos
        FROM s LEFT JOIN d c ON c.record_id = s.link
        WHERE s.link IS NOT NULL GROUP BY s.pos""", "link_targets", materialise=True)
    p.enqueue_sql("""
        SELECT d_pos, COUNT(*) AS accounts FROM link_targets
        WHERE d_pos IS NOT NULL GROUP BY d_pos""", "link_counts", materialise=True)
    p.enqueue_sql("""
        SELECT t.d_pos, t.s_pos FROM link_targets t JOIN link_counts n ON n.d_pos = t.d_pos
        WHERE n.accounts = 1""", "link_pairs", materialise=True)
    p.enqueue_sql("""
        SELECT t.s_pos AS pos,
               CASE WHEN n.accounts = 1 THEN 'matched' ELSE 'review' END AS bucket,
               CASE WHEN t.d_pos IS NULL THEN 'dangling_link'
                    WHEN n.accounts > 1 THEN 'shared_link' END AS reason
        FROM link_targets t LEFT JOIN link_counts n ON n.d_pos = t.d_pos""", "s_link_bucket",
                  materialise=True)
    p.enqueue_sql("""
        SELECT d_pos AS pos,
               CASE WHEN accounts = 1 THEN 'matched' ELSE 'review' END AS bucket,
               CASE WHEN accounts > 1 THEN 'shared_link' END AS reason
        FROM link_counts""", "d_link_bucket")


def key_counts(p: Pipeline) -> None:
    """Per email key, in one pass over both sides: how many records of each side hold it,
    whether a record rule 1 decided holds it (``taken``), and where (the largest position,
    which is the only one when a side holds the key once)."""
    sides = [f"""
            SELECT x.email_key, CASE WHEN l.pos IS NULL THEN 0 ELSE 1 END AS linked,
                   {"x.pos" if side == "d" else "CAST(NULL AS BIGINT)"} AS d_pos,
                   {"x.pos" if side == "s" else "CAST(NULL AS BIGINT)"} AS s_pos
            FROM {side} x LEFT JOIN {side}_link_bucket l ON l.pos = x.pos
            WHERE x.email_key IS NOT NULL""" for side in ("d", "s")]
    p.enqueue_sql(f"""
        SELECT email_key, COUNT(d_pos) AS d_n, COUNT(s_pos) AS s_n, MAX(linked) AS taken,
               MAX(d_pos) AS d_pos, MAX(s_pos) AS s_pos
        FROM ({" UNION ALL".join(sides)}) held
        GROUP BY email_key""", "key_holders", materialise=True)
    for side in ("d", "s"):
        p.enqueue_sql(f"""
            SELECT email_key, {side}_n AS n FROM key_holders WHERE {side}_n > 0""",
                      f"{side}_key_count")


def email_rules(p: Pipeline) -> None:
    """Rules 2-7 for the records rule 1 did not decide, one side at a time; each record
    keeps how many records of its side hold its key (``group_size``). A key its side holds
    once names its record in ``key_holders``: only duplicate keys are joined back to their
    records."""
    for side in ("d", "s"):
        other = OTHER[side]
        p.enqueue_sql(f"""
            SELECT k.{side}_pos AS pos, k.email_key, k.d_n, k.s_n, k.taken,
                   CAST(NULL AS VARCHAR) AS email_status
            FROM key_holders k WHERE k.{side}_n = 1
            UNION ALL
            SELECT x.pos, k.email_key, k.d_n, k.s_n, k.taken, CAST(NULL AS VARCHAR)
            FROM {side} x JOIN key_holders k ON k.email_key = x.email_key WHERE k.{side}_n >= 2
            UNION ALL
            SELECT x.pos, CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
                   CAST(NULL AS INTEGER), x.email_status
            FROM {side} x WHERE x.email_key IS NULL""", f"{side}_keyed")
        p.enqueue_sql(f"""
            SELECT x.pos,
                   CASE WHEN linked.pos IS NOT NULL THEN linked.bucket
                        WHEN x.email_key IS NULL THEN 'review'
                        WHEN x.{side}_n >= 2 THEN 'review'
                        WHEN x.taken = 1 THEN 'review'
                        WHEN x.{other}_n >= 2 THEN 'review'
                        WHEN x.{other}_n = 1 THEN 'matched'
                        ELSE 'only' END AS bucket,
                   CASE WHEN linked.pos IS NOT NULL THEN linked.reason
                        WHEN x.email_key IS NULL
                             AND COALESCE(x.email_status = 'missing', TRUE) THEN 'missing_email'
                        WHEN x.email_key IS NULL THEN 'invalid_email'
                        WHEN x.{side}_n >= 2 THEN 'duplicate_email'
                        WHEN x.taken = 1 THEN 'email_in_use'
                        WHEN x.{other}_n >= 2 THEN 'duplicate_email' END AS reason,
                   CASE WHEN linked.pos IS NOT NULL THEN 'link' ELSE 'email' END AS rule,
                   COALESCE(x.{side}_n, 0) AS group_size
            FROM {side}_keyed x
            LEFT JOIN {side}_link_bucket linked ON linked.pos = x.pos""", f"{side}_paired_bucket",
                      materialise=True)


def pairs(p: Pipeline) -> None:
    """Email pairs (a key held once on each side and by no record rule 1 decided), then
    every pair."""
    p.enqueue_sql("""
        SELECT d_pos, s_pos FROM key_holders WHERE d_n = 1 AND s_n = 1 AND taken = 0""",
                  "email_pairs")
    p.enqueue_sql("""
        SELECT d_pos, s_pos, TRUE AS by_link FROM link_pairs
        UNION ALL
        SELECT d_pos, s_pos, FALSE AS by_link FROM email_pairs""", "pairs", materialise=True)


def secondary_email_match(p: Pipeline) -> None:
    """Rule 7: a Dynamics-only contact whose second or third key is a Strivacity-only key."""
    for side in ("d", "s"):
        p.enqueue_sql(f"""
            SELECT x.* FROM {side} x JOIN {side}_paired_bucket b ON b.pos = x.pos
            WHERE b.bucket = 'only'""", f"{side}_only")
    p.enqueue_sql("""
        SELECT d.pos AS d_pos, s.pos AS s_pos
        FROM d_only d JOIN s_only s ON s.email_key = d.email2_key
        UNION ALL
        SELECT d.pos AS d_pos, s.pos AS s_pos
        FROM d_only d JOIN s_only s ON s.email_key = d.email3_key""", "secondary_hits",
                  materialise=True)
    for side in ("d", "s"):
        p.enqueue_sql(f"""
            SELECT b.pos,
                   CASE WHEN h.pos IS NULL THEN b.bucket ELSE 'review' END AS bucket,
                   CASE WHEN h.pos IS NULL THEN b.reason ELSE 'secondary_email_match' END
                       AS reason,
                   b.rule
            FROM {side}_paired_bucket b
            LEFT JOIN (SELECT DISTINCT {side}_pos AS pos FROM secondary_hits) h
                   ON h.pos = b.pos""", f"{side}_secondary_bucket", materialise=side == "s")
    p.enqueue_sql("SELECT * FROM d_secondary_bucket", "d_bucket", materialise=True)


def creatable(p: Pipeline) -> None:
    """Enabled Strivacity-only accounts so far: the accounts a contact may be created from."""
    p.enqueue_sql(f"""
        SELECT {record_columns('s')}, s.store FROM s JOIN s_secondary_bucket b ON b.pos = s.pos
        WHERE b.bucket = 'only' AND COALESCE(s.active, FALSE)""", "s_creatable",
                  materialise=True)


def missing_required_field(p: Pipeline, required: Sequence[str]) -> None:
    """Rule 7, last: an enabled only account lacking a value Dynamics requires on create
    (``forms`` holds each value's normalised text: one of only spaces is no value)."""
    lacking = " OR ".join(f"t{i}.text IS NULL" for i in range(len(required))) or "FALSE"
    joins = "".join(f"\n            LEFT JOIN forms t{i} ON t{i}.kind = 'text' "
                    f"AND t{i}.value = c.{column}" for i, column in enumerate(required))
    p.enqueue_sql(f"""
        SELECT c.pos FROM s_creatable c{joins}
        WHERE {lacking}""", "lacking_required", materialise=True)
    p.enqueue_sql("""
        SELECT b.pos,
               CASE WHEN l.pos IS NULL THEN b.bucket ELSE 'review' END AS bucket,
               CASE WHEN l.pos IS NULL THEN b.reason ELSE 'missing_required_field' END AS reason,
               b.rule
        FROM s_secondary_bucket b LEFT JOIN lacking_required l ON l.pos = b.pos""",
                  "s_bucket", materialise=True)


def reports(p: Pipeline) -> None:
    """Review rows, and duplicate groups with a suggested survivor."""
    for side, name in (("d", "dynamics"), ("s", "strivacity")):
        p.enqueue_sql(f"""
            SELECT '{name}' AS side, x.record_id, x.email_key, b.reason,
                   CASE WHEN b.reason = 'invalid_email' THEN x.email END AS value, x.pos
            FROM {side}_bucket b JOIN {side} x ON x.pos = b.pos
            WHERE b.bucket = 'review'""", f"{side}_review")
        # Survivor: active first, then most recently updated, then the smallest record id.
        p.enqueue_sql(f"""
            SELECT '{name}' AS side, x.email_key, x.record_id, c.group_size,
                   FIRST_VALUE(x.record_id) OVER (
                       PARTITION BY x.email_key
                       ORDER BY COALESCE(x.active, FALSE) DESC, x.updated_ns DESC NULLS LAST,
                                x.record_id, x.pos
                       ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                       AS suggested_survivor,
                   NOT COALESCE(x.active, FALSE) AS inactive, x.updated_ns, x.pos
            FROM {side} x JOIN {side}_paired_bucket c ON c.pos = x.pos
            WHERE c.group_size >= 2""", f"{side}_duplicates")


def matches(p: Pipeline) -> None:
    """The pairs with their ids; a link pair's email key is the contact's, else the account's.
    Also the account's store, and whether it is an email pair whose account lacks the link
    (``update_strivacity`` sets it)."""
    p.enqueue_sql("""
        SELECT CASE WHEN p.by_link THEN 'link' ELSE 'email' END AS match_type,
               COALESCE(d.email_key, s.email_key) AS email_key,
               d.record_id AS contactid, s.record_id AS strivacity_id, p.d_pos, p.s_pos,
               p.by_link, s.store, NOT p.by_link AND s.link IS NULL AS lacks_link
        FROM pairs p JOIN d ON d.pos = p.d_pos JOIN s ON s.pos = p.s_pos""", "matches",
                  materialise=True)


def pairing(p: Pipeline) -> None:
    """Rules 1-7 up to the Strivacity-only accounts that need normalised values to decide."""
    links(p)
    key_counts(p)
    email_rules(p)
    pairs(p)
    matches(p)
    secondary_email_match(p)
    creatable(p)
