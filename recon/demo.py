"""The demo: the bundled sample tenant served by the emulator, reconciled live by the report.

It exercises the whole product path (msal, the Dataverse and Strivacity APIs over TLS, the engine,
the papermill report and its HTML) with no tenant and no network beyond loopback.
"""

from __future__ import annotations

from pathlib import Path

from recon.runner import ReportOptions, RunOutcome, run_report
from recon.settings import environment


def run_demo(runs_dir: str | Path = "data/runs") -> RunOutcome:
    """Serve the sample tenant on loopback and run the report against it with ``source="live"``."""
    from recon.emulator import Emulator

    with Emulator() as emu, environment(emu.env()):
        return run_report(ReportOptions(source="live", runs_dir=Path(runs_dir), label="demo",
                                        parameters={"source_name": "the recon emulator "
                                                    "(the bundled sample tenant, on loopback)"}))
