"""Deterministic sample tenant: Dynamics contacts, Strivacity accounts and the planted truth.

``generate(out_dir, contacts=2000, seed=0)`` writes ``dynamics_contacts.csv``,
``strivacity_accounts.ndjson`` and ``truth.json`` (each planted case with its record ids, and
``expected_summary`` in the summary.json shape of DESIGN §7). Same arguments, same bytes.
Regenerate the committed sample with ``recon sample --out data/sample``.
"""

from recon.sample.generate import ACCOUNTS_FILE, CONTACTS_FILE, TRUTH_FILE, generate, write_sample
from recon.sample.spec import SampleSpec

__all__ = ["ACCOUNTS_FILE", "CONTACTS_FILE", "TRUTH_FILE", "SampleSpec", "generate",
           "write_sample"]
