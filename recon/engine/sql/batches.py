"""The four batch frames as named SQL steps (DESIGN §6 batch decisions).

Only ``only`` and ``matched`` records reach them; values are the source's own as
``recon.engine.values`` writes them (email: the cleaned address when valid; phone: E.164 into
Strivacity, as stored into Dynamics when it parses; text: as stored unless blank). A batched
record's values are looked up in ``forms`` one row per field (one join, which spills), then
turned back into one column per field (``v0``, ``v1``, ... in field-map order).
"""

from __future__ import annotations

from recon.engine.drift import source_column
from recon.engine.sql.drift import written
from recon.engine.sql.pipeline import Pipeline
from recon.fields import FieldMap

#: Batch of new records -> (the records, the system their values are written to).
NEW_RECORDS = {"migrate": ("d_migrating", "strivacity"), "create": ("s_created", "dynamics")}


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def new_records(p: Pipeline, fields: FieldMap) -> None:
    """The records the two create batches carry, and the contactid fixed for each account."""
    p.enqueue_sql("""
        SELECT x.*, c.contactid FROM s x JOIN s_bucket b ON b.pos = x.pos
        JOIN created_ids c ON c.pos = x.pos
        WHERE b.bucket = 'only' AND COALESCE(x.active, FALSE)""", "s_created",
                  materialise=True)
    branches = [f"""
        SELECT '{batch}' AS batch, x.pos, {rank} AS field_rank,
               {literal(field.comparer)} AS comparer,
               CAST(x.{source_column(field)} AS VARCHAR) AS value
        FROM {table} x"""
                for batch, (table, _) in NEW_RECORDS.items()
                for rank, field in enumerate(fields.fields)]
    p.enqueue_sql("\n        UNION ALL".join(branches), "new_values")
    cases = " ".join(f"WHEN '{batch}' THEN {written('', target)}"
                     for batch, (_, target) in NEW_RECORDS.items())
    p.enqueue_sql(f"""
        SELECT v.batch, v.pos, v.field_rank, CASE v.batch {cases} END AS written
        FROM (SELECT n.batch, n.pos, n.field_rank, n.comparer, n.value, f.text, f.e164,
                     f.address, COALESCE(f.key_ok, FALSE) AS key_ok
              FROM new_values n
              LEFT JOIN forms f ON f.kind = n.comparer AND f.value = n.value) v""",
                  "new_written")
    p.enqueue_sql(f"""
        SELECT batch, pos, {_pivot(fields)}
        FROM new_written GROUP BY batch, pos""", "new_columns", materialise=True)


def _pivot(fields: FieldMap) -> str:
    """One column per field from the rows of ``new_written``."""
    return ", ".join(f"MAX(CASE WHEN field_rank = {i} THEN written END) AS v{i}"
                     for i in range(len(fields.fields)))


def migrate_to_strivacity(p: Pipeline, fields: FieldMap) -> None:
    """Active Dynamics-only contacts, their fields as written into Strivacity."""
    p.enqueue_sql("""
        SELECT x.record_id, w.*
        FROM d_migrating x JOIN new_columns w ON w.batch = 'migrate' AND w.pos = x.pos""",
                  "migrate_to_strivacity", materialise=True)


def create_in_dynamics(p: Pipeline, fields: FieldMap) -> None:
    """Enabled Strivacity-only accounts, with the contactid the run fixes for each."""
    p.enqueue_sql("""
        SELECT x.record_id AS strivacity_id, x.contactid, x.store, w.*
        FROM s_created x JOIN new_columns w ON w.batch = 'create' AND w.pos = x.pos""",
                  "create_in_dynamics", materialise=True)


def update_dynamics(p: Pipeline) -> None:
    """Strivacity-winning drift, as Dataverse column, new value and the value stored."""
    p.enqueue_sql(f"""
        SELECT r.contactid, x.etag, r.dynamics AS column_name,
               {written('s_', 'dynamics')} AS new_value, r.d_value AS old_value,
               r.d_pos, r.field_rank
        FROM drift r JOIN d x ON x.pos = r.d_pos
        WHERE r.action = 'update_dynamics'""", "update_dynamics")


def update_strivacity(p: Pipeline, fields: FieldMap) -> None:
    """Dynamics-winning drift, then the link of email pairs lacking it and of created
    contacts, one row per attribute."""
    link = literal(fields.link_attribute)
    p.enqueue_sql(f"""
        SELECT x.record_id AS account_id, x.store, r.path AS attribute,
               {written('d_', 'strivacity')} AS value, 0 AS part, r.field_rank, r.s_pos
        FROM drift r JOIN s x ON x.pos = r.s_pos
        WHERE r.action = 'update_strivacity'
        UNION ALL
        SELECT x.record_id, x.store, {link}, m.contactid, 1, 0, m.s_pos
        FROM matches m JOIN s x ON x.pos = m.s_pos
        WHERE NOT m.by_link AND x.link IS NULL
        UNION ALL
        SELECT c.strivacity_id, c.store, {link}, c.contactid, 2, 0, c.pos
        FROM create_in_dynamics c""", "update_strivacity")


def batch_steps(p: Pipeline, fields: FieldMap) -> None:
    new_records(p, fields)
    migrate_to_strivacity(p, fields)
    create_in_dynamics(p, fields)
    update_dynamics(p)
    update_strivacity(p, fields)
