"""The reconciliation engine: pairing, duplicates, drift and batch decisions; no I/O.

``reconcile(dynamics, strivacity, fields)`` returns a ``Reconciliation``.
"""

from recon.engine.result import Reconciliation
from recon.engine.run import reconcile

__all__ = ["Reconciliation", "reconcile"]
