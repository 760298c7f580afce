"""Drift as named SQL steps: per matched pair and mapped field, what differs and what to do.

The rules are ``recon.engine.drift``'s: values are compared as their comparer reads them
(``forms``: each needed value normalised once by ``recon.normalize``), both blank is no drift,
and the first reason that applies sends a row to ``report`` (never batched).
"""

from __future__ import annotations

from recon.engine.drift import compared_column, source_column
from recon.engine.sql.pipeline import Pipeline
from recon.fields import FieldMap


def _columns(fields: FieldMap) -> list[str]:
    """The canonical columns drift reads, each once, in field-map order."""
    names = [c for f in fields.fields for c in (compared_column(f), source_column(f))]
    return list(dict.fromkeys(names))


def pair_rows(p: Pipeline, fields: FieldMap) -> None:
    """The pairs whose records differ in some compared column as stored, with both records'
    compared and source columns side by side (every other pair has no drift)."""
    columns = ",\n               ".join(f"d.{c} AS d_{c}, s.{c} AS s_{c}" for c in _columns(fields))
    differ = "\n           OR ".join(f"d.{c} IS DISTINCT FROM s.{c}"
                                     for c in dict.fromkeys(map(compared_column, fields.fields)))
    p.enqueue_sql(f"""
        SELECT m.d_pos, m.s_pos, d.record_id AS contactid, s.record_id AS strivacity_id,
               COALESCE(d.email_key, s.email_key) AS email_key,
               db.group_size >= 2 OR sb.group_size >= 2 AS in_duplicate_group,
               COALESCE(d.updated_ns > s.updated_ns, FALSE) AS d_newer,
               COALESCE(s.updated_ns > d.updated_ns, FALSE) AS s_newer,
               {columns}
        FROM pairs m JOIN d ON d.pos = m.d_pos JOIN s ON s.pos = m.s_pos
        JOIN d_paired_bucket db ON db.pos = m.d_pos JOIN s_paired_bucket sb ON sb.pos = m.s_pos
        WHERE {differ or 'FALSE'}""", "pair_rows", materialise=True)


def candidates(p: Pipeline, fields: FieldMap) -> None:
    """Rows whose compared values differ as stored: only these can drift."""
    branches = [f"""
        SELECT d_pos, s_pos, '{f.name}' AS field,
               CAST(d_{compared_column(f)} AS VARCHAR) AS d_cmp,
               CAST(s_{compared_column(f)} AS VARCHAR) AS s_cmp,
               CAST(d_{source_column(f)} AS VARCHAR) AS d_value,
               CAST(s_{source_column(f)} AS VARCHAR) AS s_value
        FROM pair_rows
        WHERE d_{compared_column(f)} IS DISTINCT FROM s_{compared_column(f)}"""
                for f in fields.fields]
    p.enqueue_sql("\n        UNION ALL".join(branches), "drift_candidates", materialise=True)


def _form(side: str) -> str:
    return (f"CASE f.comparer WHEN 'phone' THEN COALESCE({side}f.e164, {side}f.text) "
            f"WHEN 'text' THEN {side}f.text ELSE c.{side}_cmp END")


def holders(p: Pipeline) -> None:
    """Secondary addresses of contacts, once per contact, for the ``email_in_use`` check."""
    p.enqueue_sql("""
        SELECT DISTINCT pos, email_key FROM (
            SELECT pos, email2_key AS email_key FROM d
            UNION ALL
            SELECT pos, email3_key AS email_key FROM d) both_keys
        WHERE email_key IS NOT NULL""", "contact_secondary", materialise=True)
    p.enqueue_sql("""
        SELECT email_key, COUNT(*) AS n FROM contact_secondary GROUP BY email_key""",
                  "secondary_count")


def compared(p: Pipeline) -> None:
    """Candidates that still differ once normalised, with each side's blank/unusable flags."""
    p.enqueue_sql(f"""
        SELECT c.d_pos, c.s_pos, c.field, c.d_cmp, c.s_cmp, c.d_value, c.s_value,
               f.field_rank, f.comparer, f.winner, f.writable, f.path, f.dynamics,
               df.text AS d_text, sf.text AS s_text,
               df.e164 AS d_e164, sf.e164 AS s_e164,
               df.address AS d_address, sf.address AS s_address,
               COALESCE(df.key_ok, FALSE) AS d_key_ok, COALESCE(sf.key_ok, FALSE) AS s_key_ok
        FROM drift_candidates c JOIN field_map f ON f.field = c.field
        LEFT JOIN forms df ON df.kind = f.comparer AND df.value = c.d_value
        LEFT JOIN forms sf ON sf.kind = f.comparer AND sf.value = c.s_value
        WHERE {_form('d')} IS DISTINCT FROM {_form('s')}""", "drift_differs",
                  materialise=True)
    sides = []
    for side in ("d", "s"):
        # An invalid address has no key: unusable, not blank; one with nothing left once
        # unwrapped (<>, mailto:) is blank, as in review. A phone that does not parse is unusable.
        sides.append(f"""
               CASE c.comparer WHEN 'email' THEN c.{side}_cmp IS NULL AND c.{side}_address IS NULL
                    WHEN 'bool' THEN c.{side}_cmp IS NULL
                    ELSE c.{side}_text IS NULL END AS {side}_blank,
               CASE c.comparer
                    WHEN 'email' THEN c.{side}_cmp IS NULL AND c.{side}_address IS NOT NULL
                    WHEN 'phone' THEN c.{side}_e164 IS NULL AND c.{side}_text IS NOT NULL
                    ELSE FALSE END AS {side}_bad""")
    # Who else holds an address: asked of the (few) email rows only.
    p.enqueue_sql("""
        SELECT c.d_pos, c.field_rank,
               COALESCE(dk.n, 0) + COALESCE(sc.n, 0)
                   - CASE WHEN own.pos IS NULL THEN 0 ELSE 1 END > 0 AS s_held,
               COALESCE(sk.n, 0) > 0 AS d_held
        FROM drift_differs c
        LEFT JOIN d_key_count dk ON dk.email_key = c.s_cmp
        LEFT JOIN secondary_count sc ON sc.email_key = c.s_cmp
        LEFT JOIN contact_secondary own ON own.pos = c.d_pos AND own.email_key = c.s_cmp
        LEFT JOIN s_key_count sk ON sk.email_key = c.d_cmp
        WHERE c.comparer = 'email'""", "email_holders", materialise=True)
    p.enqueue_sql(f"""
        SELECT c.*, pr.contactid, pr.strivacity_id, pr.email_key, pr.in_duplicate_group,
               CASE c.winner WHEN 'strivacity' THEN TRUE WHEN 'newest' THEN pr.s_newer
                    ELSE FALSE END AS s_wins,
               CASE c.winner WHEN 'dynamics' THEN TRUE WHEN 'newest' THEN pr.d_newer
                    ELSE FALSE END AS d_wins,
               c.comparer = 'email' AND c.s_cmp IS NOT NULL AND h.s_held AS s_in_use,
               c.comparer = 'email' AND c.d_cmp IS NOT NULL AND h.d_held AS d_in_use,
               {','.join(sides)}
        FROM drift_differs c JOIN pair_rows pr ON pr.d_pos = c.d_pos
        LEFT JOIN email_holders h ON h.d_pos = c.d_pos AND h.field_rank = c.field_rank""",
                  "drift_sides")


def decide(p: Pipeline) -> None:
    """Action and reason of each drift row: the first reason that applies makes it a report."""
    p.enqueue_sql("""
        SELECT r.*,
               CASE WHEN r.reason IS NOT NULL THEN 'report'
                    WHEN r.s_wins THEN 'update_dynamics'
                    ELSE 'update_strivacity' END AS action
        FROM (
            SELECT x.*,
                   CASE WHEN x.in_duplicate_group THEN 'duplicate_group'
                        WHEN x.winner = 'report' THEN 'winner_report'
                        WHEN NOT x.s_wins AND NOT x.d_wins THEN 'no_newer_side'
                        WHEN (x.s_wins AND x.s_blank) OR (x.d_wins AND x.d_blank)
                            THEN 'blank_winner'
                        WHEN (x.s_wins AND x.s_bad) OR (x.d_wins AND x.d_bad)
                            THEN CASE WHEN x.comparer = 'email' THEN 'invalid_email'
                                      ELSE 'unparseable_phone' END
                        WHEN x.d_wins AND NOT x.writable THEN 'not_writable'
                        WHEN (x.s_wins AND x.s_in_use) OR (x.d_wins AND x.d_in_use)
                            THEN 'email_in_use'
                   END AS reason
            FROM drift_sides x) r""", "drift", materialise=True)


def written_as(comparer: str, value: str, form: str, target: str) -> str:
    """SQL of ``value`` as written to ``target`` (``recon.engine.values``) when its comparer is
    ``comparer``; ``form`` prefixes the columns of its forms (``text``, ``e164``, ...)."""
    if comparer == "email":
        return f"CASE WHEN {form}key_ok THEN {form}address END"
    if comparer == "phone":
        return f"{form}e164" if target == "strivacity" else \
            f"CASE WHEN {form}e164 IS NOT NULL THEN {value} END"
    if comparer == "bool":
        return value
    return f"CASE WHEN {form}text IS NOT NULL THEN {value} END"


def written(side: str, target: str) -> str:
    """SQL of a row's value as written to ``target``: the row holds ``comparer`` and, under
    the prefix ``side``, ``value`` and its forms."""
    cases = " ".join(f"WHEN '{c}' THEN {written_as(c, f'{side}value', side, target)}"
                     for c in ("email", "phone", "bool"))
    return f"CASE comparer {cases} ELSE {written_as('text', f'{side}value', side, target)} END"


def drift_steps(p: Pipeline) -> None:
    """Everything after the normalised forms are known."""
    holders(p)
    compared(p)
    decide(p)
