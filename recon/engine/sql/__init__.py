"""The reconciliation as one relational plan of named SQL steps, run by embedded DuckDB.

``reconcile(dynamics, strivacity, fields, *, memory_limit=None, temp_dir=None)`` returns the
same ``Reconciliation`` as ``recon.engine.reconcile``. The plan (``steps``, ``drift``,
``batches``, ``forms``) is written once in portable SQL; ``dialect`` and ``duckdb_engine`` hold
what is particular to an engine.
"""

from recon.engine.sql.run import reconcile

__all__ = ["reconcile"]
