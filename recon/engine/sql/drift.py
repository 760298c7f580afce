"""Drift as named SQL steps: per matched pair and mapped field, what differs and what to do.

The rules are ``recon.engine.drift``'s: values are compared as their comparer reads them
(``forms``: each needed value normalised once by ``recon.normalize``), both blank is no drift,
and the first reason that applies sends a row to ``report`` (never batched).

A first sync differs in every field of every pair, so drift may have ten rows per pair: only
``pair_rows`` (one row per differing pair, both records' values side by side) and ``drift``
(one narrow row per pair and field) are kept. The rows in between are views DuckDB streams
through. A drift row holds integers where it can: the contact's position ``d_pos`` (the pair's
ids and email key are in ``matches``), ``field_rank`` (names and targets are in ``field_map``)
and the codes of ``action`` and ``reason`` (positions in ``ACTIONS`` / ``REASONS``); its
strings are the two values as stored and ``new_value``, the winner's value as written.
"""

from __future__ import annotations

from recon.engine.attributes import attribute_path
from recon.engine.drift import compared_column, source_column
from recon.engine.sql.pipeline import Pipeline
from recon.fields import FieldMap
from recon.runfolder import DRIFT_ACTIONS, DRIFT_REASONS

ACTIONS, REASONS = DRIFT_ACTIONS, DRIFT_REASONS
#: The code of each action in ``drift.action``, and of each reason in ``drift.reason``.
ACTION = {name: code for code, name in enumerate(ACTIONS)}
REASON = {name: code for code, name in enumerate(REASONS)}
#: The columns of the ``drift`` table, in order: what the output and batch steps read.
DRIFT_TABLE = ("d_pos", "field_rank", "action", "reason", "d_value", "s_value", "new_value")


def named(column: str, names: tuple[str, ...]) -> str:
    """SQL of a code column (``action``, ``reason``) as the name it codes (NULL stays NULL)."""
    cases = " ".join(f"WHEN {code} THEN '{name}'" for code, name in enumerate(names))
    return f"CASE {column} {cases} END"


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
        SELECT m.d_pos,
               db.group_size >= 2 OR sb.group_size >= 2 AS in_duplicate_group,
               COALESCE(d.updated_ns > s.updated_ns, FALSE) AS d_newer,
               COALESCE(s.updated_ns > d.updated_ns, FALSE) AS s_newer,
               {columns}
        FROM pairs m JOIN d ON d.pos = m.d_pos JOIN s ON s.pos = m.s_pos
        JOIN d_paired_bucket db ON db.pos = m.d_pos JOIN s_paired_bucket sb ON sb.pos = m.s_pos
        WHERE {differ or 'FALSE'}""", "pair_rows", materialise=True)


def candidates(p: Pipeline, fields: FieldMap) -> None:
    """Rows whose compared values differ as stored: only these can drift. A view over
    ``pair_rows`` (read by ``needed_values`` and by ``drift``), each field's comparer, winner
    and writability written in as constants."""
    branches = [f"""
        SELECT d_pos, {rank} AS field_rank, '{f.comparer}' AS comparer, '{f.winner}' AS winner,
               {str(attribute_path(f) is not None).upper()} AS writable,
               in_duplicate_group, d_newer, s_newer,
               CAST(d_{compared_column(f)} AS VARCHAR) AS d_cmp,
               CAST(s_{compared_column(f)} AS VARCHAR) AS s_cmp,
               CAST(d_{source_column(f)} AS VARCHAR) AS d_value,
               CAST(s_{source_column(f)} AS VARCHAR) AS s_value
        FROM pair_rows
        WHERE d_{compared_column(f)} IS DISTINCT FROM s_{compared_column(f)}"""
                for rank, f in enumerate(fields.fields)]
    p.enqueue_sql("\n        UNION ALL".join(branches), "drift_candidates")


def _form(side: str) -> str:
    return (f"CASE c.comparer WHEN 'phone' THEN COALESCE({side}f.e164, {side}f.text) "
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
    """Candidates that still differ once normalised, with each side's blank/unusable flags
    (views: ``drift`` reads them once)."""
    p.enqueue_sql(f"""
        SELECT c.d_pos, c.field_rank, c.comparer, c.winner, c.writable,
               c.in_duplicate_group, c.d_newer, c.s_newer,
               c.d_cmp, c.s_cmp, c.d_value, c.s_value,
               df.text AS d_text, sf.text AS s_text,
               df.e164 AS d_e164, sf.e164 AS s_e164,
               df.address AS d_address, sf.address AS s_address,
               COALESCE(df.key_ok, FALSE) AS d_key_ok, COALESCE(sf.key_ok, FALSE) AS s_key_ok
        FROM drift_candidates c
        LEFT JOIN forms df ON df.kind = c.comparer AND df.value = c.d_value
        LEFT JOIN forms sf ON sf.kind = c.comparer AND sf.value = c.s_value
        WHERE {_form('d')} IS DISTINCT FROM {_form('s')}""", "drift_differs")
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
        SELECT c.*,
               CASE c.winner WHEN 'strivacity' THEN TRUE WHEN 'newest' THEN c.s_newer
                    ELSE FALSE END AS s_wins,
               CASE c.winner WHEN 'dynamics' THEN TRUE WHEN 'newest' THEN c.d_newer
                    ELSE FALSE END AS d_wins,
               c.comparer = 'email' AND c.s_cmp IS NOT NULL AND h.s_held AS s_in_use,
               c.comparer = 'email' AND c.d_cmp IS NOT NULL AND h.d_held AS d_in_use,
               {','.join(sides)}
        FROM drift_differs c
        LEFT JOIN email_holders h ON h.d_pos = c.d_pos AND h.field_rank = c.field_rank""",
                  "drift_sides")


def decide(p: Pipeline) -> None:
    """Action and reason of each drift row (the first reason that applies makes it a report),
    and the value an update writes: the ``drift`` table (``DRIFT_TABLE``)."""
    r = REASON
    p.enqueue_sql(f"""
        SELECT r.d_pos, r.field_rank, r.action, r.reason, r.d_value, r.s_value,
               CASE r.action WHEN {ACTION['update_dynamics']} THEN {written('s_', 'dynamics')}
                    WHEN {ACTION['update_strivacity']} THEN {written('d_', 'strivacity')}
                    END AS new_value
        FROM (
            SELECT x.*,
                   CASE WHEN x.reason IS NOT NULL THEN {ACTION['report']}
                        WHEN x.s_wins THEN {ACTION['update_dynamics']}
                        ELSE {ACTION['update_strivacity']} END AS action
            FROM (
                SELECT y.*,
                       CASE WHEN y.in_duplicate_group THEN {r['duplicate_group']}
                            WHEN y.winner = 'report' THEN {r['winner_report']}
                            WHEN NOT y.s_wins AND NOT y.d_wins THEN {r['no_newer_side']}
                            WHEN (y.s_wins AND y.s_blank) OR (y.d_wins AND y.d_blank)
                                THEN {r['blank_winner']}
                            WHEN (y.s_wins AND y.s_bad) OR (y.d_wins AND y.d_bad)
                                THEN CASE WHEN y.comparer = 'email' THEN {r['invalid_email']}
                                          ELSE {r['unparseable_phone']} END
                            WHEN y.d_wins AND NOT y.writable THEN {r['not_writable']}
                            WHEN (y.s_wins AND y.s_in_use) OR (y.d_wins AND y.d_in_use)
                                THEN {r['email_in_use']}
                       END AS reason
                FROM drift_sides y) x) r""", "drift", materialise=True)


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


def contacts(p: Pipeline) -> None:
    """Each pair's contactid and whether another pair has the same one (``shared``), for
    counting contacts with drift without a distinct count over every drift row."""
    p.enqueue_sql("""
        SELECT m.d_pos, m.contactid, t.contactid IS NOT NULL AS shared
        FROM matches m LEFT JOIN (
            SELECT contactid FROM matches GROUP BY contactid HAVING COUNT(*) > 1) t
          ON t.contactid = m.contactid""", "pair_contacts")


def drift_steps(p: Pipeline) -> None:
    """Everything after the normalised forms are known."""
    holders(p)
    compared(p)
    decide(p)
    contacts(p)
