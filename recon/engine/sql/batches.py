"""The four batch frames as named SQL steps (DESIGN §6 batch decisions).

Only ``only`` and ``matched`` records reach them; values are the source's own as
``recon.engine.values`` writes them (email: the cleaned address when valid; phone: E.164 into
Strivacity, as stored into Dynamics when it parses; text: as stored unless blank). A batched
record's values are looked up in ``forms`` with one join per field (a few per step, so that
their hash tables fit under a memory limit), each giving one column (``v0``, ``v1``, ... in
field-map order).
"""

from __future__ import annotations

from recon.engine.drift import source_column
from recon.engine.sql.drift import ACTION, written_as
from recon.engine.sql.pipeline import Pipeline
from recon.fields import FieldMap


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def new_records(p: Pipeline) -> None:
    """The accounts the create batch carries (creatable ones lacking nothing Dynamics
    requires), with the contactid fixed for each."""
    p.enqueue_sql("""
        SELECT x.*, c.contactid FROM s_creatable x JOIN created_ids c ON c.pos = x.pos
        LEFT JOIN lacking_required l ON l.pos = x.pos
        WHERE l.pos IS NULL""", "s_created", materialise=True)


#: Fields looked up in ``forms`` per step: each lookup is a join whose hash table must fit
#: beside the others' under the memory limit, so a few at a time.
JOINS_PER_STEP = 3


def _new_values(p: Pipeline, fields: FieldMap, table: str, target: str) -> str:
    """Steps ``{table}_values0``, ``1``, ...: per record of ``table`` (``pos``), a few of the
    ``v0``, ``v1``, ... columns (one per field, in map order) as written to ``target``, each
    looked up in ``forms`` by one join on its value. Returns the joins that gather them."""
    ranks = list(range(len(fields.fields)))
    gather = []
    for number, start in enumerate(range(0, len(ranks), JOINS_PER_STEP)):
        columns, joins = [], []
        for rank in ranks[start:start + JOINS_PER_STEP]:
            field = fields.fields[rank]
            value = f"CAST(x.{source_column(field)} AS VARCHAR)"
            if field.comparer != "bool":
                joins.append(f"\n        LEFT JOIN forms f{rank} ON f{rank}.kind = "
                             f"'{_kind(field.comparer)}' AND f{rank}.value = {value}")
            columns.append(f"{written_as(field.comparer, value, f'f{rank}.', target)} AS v{rank}")
        name = f"{table}_values{number}"
        p.enqueue_sql(f"""
        SELECT x.pos, {", ".join(columns)}
        FROM {table} x{"".join(joins)}""", name, materialise=True)
        gather.append(f"\n        JOIN {name} ON {name}.pos = w.pos")
    return "".join(gather)


def _kind(comparer: str) -> str:
    """The kind of ``forms`` a comparer's values are looked up in."""
    return comparer if comparer in ("email", "phone") else "text"


def migrate_to_strivacity(p: Pipeline, fields: FieldMap) -> None:
    """Active Dynamics-only contacts, their fields as written into Strivacity."""
    gather = _new_values(p, fields, "d_migrating", "strivacity")
    p.enqueue_sql(f"""
        SELECT w.record_id, 'migrate' AS batch, w.pos, {_v(fields)}
        FROM d_migrating w{gather}""", "migrate_to_strivacity", materialise=True)


def create_in_dynamics(p: Pipeline, fields: FieldMap) -> None:
    """Enabled Strivacity-only accounts, with the contactid the run fixes for each."""
    gather = _new_values(p, fields, "s_created", "dynamics")
    p.enqueue_sql(f"""
        SELECT w.record_id AS strivacity_id, w.contactid, w.store, 'create' AS batch, w.pos,
               {_v(fields)}
        FROM s_created w{gather}""", "create_in_dynamics", materialise=True)


def _v(fields: FieldMap) -> str:
    return ", ".join(f"v{rank}" for rank in range(len(fields.fields)))


def update_dynamics(p: Pipeline) -> None:
    """Strivacity-winning drift, as Dataverse column, new value and the value stored."""
    p.enqueue_sql(f"""
        SELECT m.contactid, x.etag, f.dynamics AS column_name, r.new_value,
               r.d_value AS old_value, r.d_pos, r.field_rank
        FROM drift r JOIN matches m ON m.d_pos = r.d_pos JOIN d x ON x.pos = r.d_pos
        JOIN field_map f ON f.field_rank = r.field_rank
        WHERE r.action = {ACTION['update_dynamics']}""", "update_dynamics")


def update_strivacity(p: Pipeline, fields: FieldMap) -> None:
    """Dynamics-winning drift, then the link of email pairs lacking it and of created
    contacts, one row per attribute. ``pair_id, pair_pos`` order an account's rows as drift.csv
    orders their pairs (an account id several accounts share has rows of several pairs)."""
    link = literal(fields.link_attribute)
    p.enqueue_sql(f"""
        SELECT m.strivacity_id AS account_id, m.store, f.path AS attribute,
               r.new_value AS value, 0 AS part, m.contactid AS pair_id, r.d_pos AS pair_pos,
               r.field_rank
        FROM drift r JOIN matches m ON m.d_pos = r.d_pos
        JOIN field_map f ON f.field_rank = r.field_rank
        WHERE r.action = {ACTION['update_strivacity']}
        UNION ALL
        SELECT m.strivacity_id, m.store, {link}, m.contactid, 1, m.contactid, m.d_pos, 0
        FROM matches m WHERE m.lacks_link
        UNION ALL
        SELECT c.strivacity_id, c.store, {link}, c.contactid, 2, CAST(NULL AS VARCHAR), c.pos, 0
        FROM create_in_dynamics c""", "update_strivacity")


def batch_steps(p: Pipeline, fields: FieldMap) -> None:
    new_records(p)
    migrate_to_strivacity(p, fields)
    create_in_dynamics(p, fields)
    update_dynamics(p)
    update_strivacity(p, fields)
