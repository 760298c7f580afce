"""DESIGN §6 pairing as named SQL steps, in the order of ``recon.engine.pairing``'s rules.

Inputs: ``d`` (contacts) and ``s`` (accounts), the canonical columns plus ``pos`` (the row's
position in the frame given) and ``updated_ns`` (``updated_at`` as epoch nanoseconds). Every
bucket step gives ``pos, bucket, reason, rule``; the first rule that fits a record decides it.
Steps written once for both sides take the side's table and the other's as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

from recon.engine.sql.pipeline import Pipeline

OTHER = {"d": "s", "s": "d"}


def key_counts(p: Pipeline) -> None:
    """How many records of each side hold each email key."""
    for side in ("d", "s"):
        p.enqueue_sql(f"""
            SELECT email_key, COUNT(*) AS n FROM {side}
            WHERE email_key IS NOT NULL GROUP BY email_key""", f"{side}_key_count",
                      materialise=True)


def links(p: Pipeline) -> None:
    """Rule 1: an account's link names a contact (the last one, if ids repeat)."""
    p.enqueue_sql("SELECT record_id, MAX(pos) AS pos FROM d GROUP BY record_id", "contact_ids")
    p.enqueue_sql("""
        SELECT s.pos AS s_pos, c.pos AS d_pos
        FROM s LEFT JOIN contact_ids c ON c.record_id = s.link
        WHERE s.link IS NOT NULL""", "link_targets", materialise=True)
    p.enqueue_sql("""
        SELECT d_pos, COUNT(*) AS accounts FROM link_targets
        WHERE d_pos IS NOT NULL GROUP BY d_pos""", "link_counts")
    p.enqueue_sql("""
        SELECT t.d_pos, t.s_pos FROM link_targets t JOIN link_counts n ON n.d_pos = t.d_pos
        WHERE n.accounts = 1""", "link_pairs", materialise=True)
    p.enqueue_sql("""
        SELECT t.s_pos AS pos,
               CASE WHEN n.accounts = 1 THEN 'matched' ELSE 'review' END AS bucket,
               CASE WHEN t.d_pos IS NULL THEN 'dangling_link'
                    WHEN n.accounts > 1 THEN 'shared_link' END AS reason,
               'link' AS rule
        FROM link_targets t LEFT JOIN link_counts n ON n.d_pos = t.d_pos""", "s_link_bucket")
    p.enqueue_sql("""
        SELECT d_pos AS pos,
               CASE WHEN accounts = 1 THEN 'matched' ELSE 'review' END AS bucket,
               CASE WHEN accounts > 1 THEN 'shared_link' END AS reason,
               'link' AS rule
        FROM link_counts""", "d_link_bucket")
    p.enqueue_sql("""
        SELECT d.email_key FROM d JOIN d_link_bucket b ON b.pos = d.pos
        WHERE d.email_key IS NOT NULL
        UNION
        SELECT s.email_key FROM s JOIN s_link_bucket b ON b.pos = s.pos
        WHERE s.email_key IS NOT NULL""", "taken_keys", materialise=True)


def email_rules(p: Pipeline) -> None:
    """Rules 2-7 for the records rule 1 did not decide, one side at a time."""
    for side in ("d", "s"):
        other = OTHER[side]
        p.enqueue_sql(f"""
            SELECT x.pos,
                   CASE WHEN x.email_key IS NULL THEN 'review'
                        WHEN same.n >= 2 THEN 'review'
                        WHEN taken.email_key IS NOT NULL THEN 'review'
                        WHEN theirs.n >= 2 THEN 'review'
                        WHEN theirs.n = 1 THEN 'matched'
                        ELSE 'only' END AS bucket,
                   CASE WHEN x.email_key IS NULL
                             AND COALESCE(x.email_status = 'missing', TRUE) THEN 'missing_email'
                        WHEN x.email_key IS NULL THEN 'invalid_email'
                        WHEN same.n >= 2 THEN 'duplicate_email'
                        WHEN taken.email_key IS NOT NULL THEN 'email_in_use'
                        WHEN theirs.n >= 2 THEN 'duplicate_email' END AS reason,
                   'email' AS rule
            FROM {side} x
            LEFT JOIN {side}_link_bucket linked ON linked.pos = x.pos
            LEFT JOIN {side}_key_count same ON same.email_key = x.email_key
            LEFT JOIN {other}_key_count theirs ON theirs.email_key = x.email_key
            LEFT JOIN taken_keys taken ON taken.email_key = x.email_key
            WHERE linked.pos IS NULL""", f"{side}_email_bucket")
        p.enqueue_sql(f"""
            SELECT pos, bucket, reason, rule FROM {side}_link_bucket
            UNION ALL
            SELECT pos, bucket, reason, rule FROM {side}_email_bucket""",
                      f"{side}_paired_bucket", materialise=True)


def pairs(p: Pipeline) -> None:
    """Email pairs (both records matched by rule 6 share the key), then every pair."""
    p.enqueue_sql("""
        SELECT d.pos AS d_pos, s.pos AS s_pos
        FROM d_paired_bucket db JOIN d ON d.pos = db.pos
        JOIN s ON s.email_key = d.email_key
        JOIN s_paired_bucket sb ON sb.pos = s.pos
        WHERE db.bucket = 'matched' AND db.rule = 'email'
          AND sb.bucket = 'matched' AND sb.rule = 'email'""", "email_pairs")
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
    p.enqueue_sql("""
        SELECT s.* FROM s JOIN s_secondary_bucket b ON b.pos = s.pos
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
            SELECT '{name}' AS side, x.email_key, x.record_id, c.n AS group_size,
                   FIRST_VALUE(x.record_id) OVER (
                       PARTITION BY x.email_key
                       ORDER BY COALESCE(x.active, FALSE) DESC, x.updated_ns DESC NULLS LAST,
                                x.record_id, x.pos
                       ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                       AS suggested_survivor,
                   NOT COALESCE(x.active, FALSE) AS inactive, x.updated_ns, x.pos
            FROM {side} x JOIN {side}_key_count c ON c.email_key = x.email_key
            WHERE c.n >= 2""", f"{side}_duplicates")


def matches(p: Pipeline) -> None:
    """The pairs with their ids; a link pair's email key is the contact's, else the account's."""
    p.enqueue_sql("""
        SELECT CASE WHEN p.by_link THEN 'link' ELSE 'email' END AS match_type,
               COALESCE(d.email_key, s.email_key) AS email_key,
               d.record_id AS contactid, s.record_id AS strivacity_id, p.d_pos, p.s_pos,
               p.by_link
        FROM pairs p JOIN d ON d.pos = p.d_pos JOIN s ON s.pos = p.s_pos""", "matches",
                  materialise=True)


def pairing(p: Pipeline) -> None:
    """Rules 1-7 up to the Strivacity-only accounts that need normalised values to decide."""
    key_counts(p)
    links(p)
    email_rules(p)
    pairs(p)
    matches(p)
    secondary_email_match(p)
    creatable(p)
