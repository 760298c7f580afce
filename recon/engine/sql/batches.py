"""The four batch frames as named SQL steps (DESIGN §6 batch decisions).

Only ``only`` and ``matched`` records reach them; values are the source's own as
``recon.engine.values`` writes them (email: the cleaned address when valid; phone: E.164 into
Strivacity, as stored into Dynamics when it parses; text: as stored unless blank).
"""

from __future__ import annotations

from recon.engine.drift import source_column
from recon.engine.sql.drift import written
from recon.engine.sql.pipeline import Pipeline
from recon.fields import Field, FieldMap


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _written(field: Field, alias: str, forms: str, target: str) -> str:
    """SQL of ``alias``'s value of ``field`` as written to ``target``, ``forms`` its forms."""
    value = f"{alias}.{source_column(field)}"
    if field.comparer == "email":
        return f"CASE WHEN {forms}.key_ok THEN {forms}.address END"
    if field.comparer == "phone":
        return f"{forms}.e164" if target == "strivacity" else \
            f"CASE WHEN {forms}.e164 IS NOT NULL THEN {value} END"
    if field.comparer == "bool":
        return f"CAST({value} AS VARCHAR)"
    return f"CASE WHEN {forms}.text IS NOT NULL THEN {value} END"


def _written_columns(fields: FieldMap, alias: str, target: str) -> tuple[str, str]:
    """Select list (``v0``, ``v1``, ... in field-map order) and the joins to ``forms``."""
    columns, joins = [], []
    for i, field in enumerate(fields.fields):
        columns.append(f"{_written(field, alias, f'f{i}', target)} AS v{i}")
        if field.comparer != "bool":
            joins.append(f"LEFT JOIN forms f{i} ON f{i}.kind = {literal(field.comparer)} "
                         f"AND f{i}.value = {alias}.{source_column(field)}")
    return ", ".join(columns), "\n        ".join(joins)


def migrate_to_strivacity(p: Pipeline, fields: FieldMap) -> None:
    """Active Dynamics-only contacts, their fields as written into Strivacity."""
    columns, joins = _written_columns(fields, "x", "strivacity")
    p.enqueue_sql(f"""
        SELECT x.record_id, x.pos, {columns}
        FROM d_bucket b JOIN d x ON x.pos = b.pos
        {joins}
        WHERE b.bucket = 'only' AND COALESCE(x.active, FALSE)""", "migrate_to_strivacity",
                  materialise=True)


def create_in_dynamics(p: Pipeline, fields: FieldMap) -> None:
    """Enabled Strivacity-only accounts, with the contactid the run fixes for each."""
    columns, joins = _written_columns(fields, "x", "dynamics")
    p.enqueue_sql(f"""
        SELECT x.record_id AS strivacity_id, c.contactid, x.pos, x.store, {columns}
        FROM s_bucket b JOIN s x ON x.pos = b.pos JOIN created_ids c ON c.pos = x.pos
        {joins}
        WHERE b.bucket = 'only' AND COALESCE(x.active, FALSE)""", "create_in_dynamics",
                  materialise=True)


def update_dynamics(p: Pipeline) -> None:
    """Strivacity-winning drift, as Dataverse column, new value and the value stored."""
    p.enqueue_sql(f"""
        SELECT r.contactid, x.etag, r.dynamics AS column_name,
               {written('s', 'dynamics')} AS new_value, r.d_value AS old_value,
               r.d_pos, r.field_rank
        FROM drift r JOIN d x ON x.pos = r.d_pos
        WHERE r.action = 'update_dynamics'""", "update_dynamics")


def update_strivacity(p: Pipeline, fields: FieldMap) -> None:
    """Dynamics-winning drift, then the link of email pairs lacking it and of created
    contacts, one row per attribute."""
    link = literal(fields.link_attribute)
    p.enqueue_sql(f"""
        SELECT x.record_id AS account_id, x.store, r.path AS attribute,
               {written('d', 'strivacity')} AS value, 0 AS part, r.field_rank, r.s_pos
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
    migrate_to_strivacity(p, fields)
    create_in_dynamics(p, fields)
    update_dynamics(p)
    update_strivacity(p, fields)
