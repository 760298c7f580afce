"""The sub-command parsers of ``recon``: options, a description, examples, the settings read.

Each ``add_<command>(sub)`` adds one parser to ``recon``'s sub-parsers (what
``add_subparsers`` returned) and returns it;
``recon.cli`` wires each to its command function. ``apply`` and ``emulator`` parse their own
arguments (``recon.apply.cli``, ``recon.emulator.cli``): they are listed here for ``--help``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recon.clihelp import (
    BOTH_ENV,
    DYNAMICS_ENV,
    ENGINE_CHOICES,  # noqa: F401  (recon.cliparsers.ENGINE_CHOICES, as before)
    PROGRESS,
    STRIVACITY_ENV,
    add_engine_arguments,
    epilog,
    input_file,
    output_file,
    output_folder,
    positive_int,
    whole_number,
)
from recon.dynamics.files import READERS as DYNAMICS_READERS
from recon.strivacity.files import READERS as STRIVACITY_READERS

RUNS_DIR = Path("data/runs")
FIELDS_HELP = "TOML field map overriding the defaults (README: The field map)"


def add_sample(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sample", help="write a deterministic sample tenant (CSV + NDJSON + truth)",
        description="Write a synthetic tenant: dynamics_contacts.csv, strivacity_accounts.ndjson "
                    "and truth.json (what reconcile must decide). Same options, same bytes.",
        epilog=epilog(["recon sample --out data/try",
                       "recon sample --out data/big --contacts 100000 --accounts 90000 --seed 7"]))
    p.add_argument("--out", required=True, type=output_folder, metavar="DIR",
                   help="folder to write into")
    p.add_argument("--contacts", type=positive_int, default=2000, metavar="N",
                   help="Dynamics contacts (default 2000; at least the planted cases)")
    p.add_argument("--accounts", type=positive_int, default=None, metavar="N",
                   help="Strivacity accounts (default: as many as --contacts)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    return p


def add_reconcile(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "reconcile", help="reconcile two exports into a run folder",
        description="Load a Dynamics contacts export and a Strivacity accounts export, reconcile "
                    "them, and write the run folder: summary.json, matches, drift, review, "
                    "duplicates and the batches/ apply sends.",
        epilog=epilog(["recon reconcile --dynamics contacts.csv --strivacity accounts.ndjson "
                       "--out runs/today",
                       "recon reconcile --dynamics export.txt --dynamics-format csv "
                       "--strivacity accounts.json --out runs/today --overwrite"], (), PROGRESS))
    p.add_argument("--dynamics", required=True, type=input_file, metavar="FILE",
                   help=f"contacts: {'/'.join(DYNAMICS_READERS)} (format from the extension)")
    p.add_argument("--strivacity", required=True, type=input_file, metavar="FILE",
                   help=f"accounts: {'/'.join(STRIVACITY_READERS)} (format from the extension)")
    p.add_argument("--dynamics-format", choices=list(DYNAMICS_READERS), default=None,
                   help="read --dynamics as this format, whatever its extension")
    p.add_argument("--strivacity-format", choices=list(STRIVACITY_READERS), default=None,
                   help="read --strivacity as this format, whatever its extension")
    p.add_argument("--out", required=True, type=output_folder, metavar="DIR",
                   help="run folder to write: new or empty, unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run folder at --out, its apply journal included")
    p.add_argument("--fields", type=input_file, default=None, metavar="FILE", help=FIELDS_HELP)
    p.add_argument("--allow-empty", action="store_true",
                   help="accept a side with zero records (refused by default: a header-only "
                        "export would batch the whole other side for creation)")
    add_engine_arguments(p)
    return p


def add_demo(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo", help="serve the sample tenant on the emulator and run the report live against "
                     "it into data/runs/<stamp>-demo",
        description="Start the local HTTPS emulator with the bundled sample tenant, run the "
                    "report against it as against a real tenant (msal, Dataverse and Strivacity "
                    "APIs, engine, notebook, HTML), stop the emulator and say where the run is.",
        epilog=epilog(["recon demo", "recon demo --runs-dir /tmp/recon-runs"], (), {
            **PROGRESS, "(settings)": "the emulator's own, set for the run: the shell's are "
                                      "neither read nor changed"}))
    p.add_argument("--runs-dir", type=output_folder, default=RUNS_DIR, metavar="DIR",
                   help="where run folders go (default data/runs)")
    return p


def add_delegated(sub: Any) -> None:
    """``apply`` and ``emulator``: their own parsers answer ``recon apply --help``."""
    sub.add_parser("emulator", add_help=False,
                   help="serve the local HTTPS emulator of Entra, Dataverse and Strivacity")
    sub.add_parser("apply", add_help=False,
                   help="push a run's batches to Dynamics or Strivacity: a dry run unless "
                        "--execute; journaled and resumable")


def add_pull(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "pull", help="pull live data (settings from the environment)",
        description="Pull every contact from Dataverse or every account from the Strivacity "
                    "Admin API into a file reconcile reads, recording the tenant and time. The "
                    "file is replaced only by a complete pull.",
        epilog=epilog(["recon pull dynamics --out contacts.parquet --streams 4",
                       "recon pull dynamics --out contacts.parquet --delta state.json",
                       "recon pull strivacity --out accounts.ndjson --since -P1D"],
                      BOTH_ENV, PROGRESS,
                      note="dynamics reads the DATAVERSE_/AZURE_ variables, strivacity the "
                           "STRIVACITY_ ones; both REQUESTS_CA_BUNDLE."))
    p.add_argument("side", choices=("dynamics", "strivacity"), help="which system to pull")
    p.add_argument("--out", required=True, type=output_file, metavar="FILE",
                   help="dynamics: .parquet/.csv/.jsonl of raw rows; strivacity: .ndjson. "
                        "Replaced only by a complete pull; records the tenant and time")
    p.add_argument("--fields", type=input_file, default=None, metavar="FILE", help=FIELDS_HELP)
    p.add_argument("--streams", type=whole_number(1, 16), default=1, metavar="N",
                   help="dynamics: parallel createdon ranges (default 1, at most 16)")
    p.add_argument("--delta", type=output_file, default=None, metavar="STATE.json",
                   help="dynamics: change-tracking state file; the next pull applies changes only")
    p.add_argument("--since", default=None, metavar="WHEN",
                   help="strivacity: only accounts updated since (ISO timestamp or -P1D)")
    return p


def add_lookup(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "lookup", help="one person in Dynamics and Strivacity, and what reconcile decides",
        description="Find the records that hold EMAIL (normalised as the engine does: case, "
                    "spaces, mailto:, <>, Unicode or punycode domain) in Dynamics (emailaddress1 "
                    "to 3) and Strivacity, with the records their links name, and show what "
                    "reconcile decides for them: matched by link or email, only (and the batch "
                    "it lands in), or held for review and why.",
        epilog=epilog(["recon lookup anna@example.com",
                       "recon lookup ' MAILTO:Anna@Straße.de ' --in strivacity"], BOTH_ENV,
                      note="--in dynamics reads only the DATAVERSE_/AZURE_ variables, --in "
                           "strivacity only the STRIVACITY_ ones."))
    p.add_argument("email", metavar="EMAIL", help="the address to look up")
    p.add_argument("--in", dest="where", choices=("both", "dynamics", "strivacity"),
                   default="both", help="which systems to search (default both: also shows "
                                        "what reconcile decides)")
    p.add_argument("--fields", type=input_file, default=None, metavar="FILE", help=FIELDS_HELP)
    return p


def add_report(sub: Any) -> argparse.ArgumentParser:
    from recon.runner import add_arguments
    p = sub.add_parser(
        "report", help="run the reconciliation report notebook into a run folder",
        description="Run the report notebook with papermill into <runs-dir>/<UTC stamp>[-label]/: "
                    "the executed notebook, report.html (opens offline), the run-folder files "
                    "and run.json. Exit 3 when a --fail-on threshold holds.",
        epilog=epilog(["recon report                      # the bundled sample tenant",
                       "recon report --dynamics contacts.xlsx --strivacity accounts.ndjson",
                       "recon report --source live --label nightly --fail-on 'drift.pairs>500'"],
                      BOTH_ENV, PROGRESS, note="Only --source live reads the settings."))
    add_arguments(p)
    return p


def add_check(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "check", help="check the settings and that each system lets recon sign in, read, and "
                      "write what apply will write",
        description="One line per check (settings, token, a read, the permissions apply needs), "
                    "each naming the fix. Exit 0 when all pass, 2 for settings, 4 when a service "
                    "refused.",
        epilog=epilog(['eval "$(recon emulator --env --background)" && recon check',
                       "recon check dynamics"], BOTH_ENV,
                      note=f"dynamics reads {', '.join(DYNAMICS_ENV)}; strivacity reads "
                           f"{', '.join(STRIVACITY_ENV)}."))
    p.add_argument("system", nargs="*", metavar="SYSTEM",
                   help="dynamics and/or strivacity: check only these (default: both)")
    return p


PARSERS = {"sample": add_sample, "reconcile": add_reconcile, "demo": add_demo,
           "pull": add_pull, "lookup": add_lookup, "report": add_report, "check": add_check}
