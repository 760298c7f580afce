"""``recon apply``: push a run folder's batches to Dataverse or Strivacity, safely.

Dry run by default; with ``execute`` every operation is journaled before and after it is
sent, so a killed run resumes and sends each operation exactly once.
"""

from recon.apply.api import apply_run
from recon.apply.cli import main_apply
from recon.apply.guards import record_source
from recon.apply.run import ApplyOptions, ApplyReport

__all__ = ["ApplyOptions", "ApplyReport", "apply_run", "main_apply", "record_source"]
