"""``recon apply``: parse the arguments, call ``apply_run``, print, return the exit code.

Exit codes: 0 everything applied (or planned), 1 some operations failed, conflicted or were
not sent (the report lists them), 2 bad input, settings or a refused run folder (stale, of
another tenant, more changes than --max-changes allows), 4 a service refused or failed the
request as a whole (run again to resume), 5 busy: another apply holds the run folder's lock.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from recon.apply.api import apply_run
from recon.apply.plan import BATCHES, TARGETS
from recon.apply.run import MAX_BATCH, ApplyOptions
from recon.clihelp import BOTH_ENV, Parser, epilog, positive_float, positive_int, whole_number
from recon.errors import EXIT_OK, JobFailed, ReconError
from recon.errors import report as report_error

EXIT_FAILED = JobFailed.exit_code


def parser() -> argparse.ArgumentParser:
    """The ``recon apply`` argument parser."""
    p = Parser(
        prog="recon apply", description="Push a run folder's batches to Dynamics or "
        "Strivacity. Without --execute, print and write the plan (apply/plan.json) only: a dry "
        "run needs no settings. Every operation is journaled; run the same command again to "
        "resume.",
        epilog=epilog(["recon apply data/runs/20261126T021500Z-nightly --to dynamics",
                       "recon apply data/runs/20261126T021500Z-nightly --to dynamics --execute",
                       "recon apply RUN --to strivacity --execute --rate 5 --max-changes 400",
                       "recon apply RUN --to dynamics --rollback --execute"], BOTH_ENV,
                      note="Only --execute reads settings: --to dynamics the DATAVERSE_/AZURE_ "
                           "variables, --to strivacity the STRIVACITY_ ones.\n" + __doc__
                           .split("\n\n", 1)[1].strip()))
    p.add_argument("run_dir", help="the run folder (with batches/)")
    p.add_argument("--to", dest="target", choices=TARGETS, required=True,
                   help="which system to write to")
    p.add_argument("--only", nargs="+", choices=list(BATCHES), default=[], metavar="BATCH",
                   help=f"only these batches ({', '.join(BATCHES)})")
    p.add_argument("--limit", type=positive_int, help="at most N operations per batch")
    p.add_argument("--batch-size", type=whole_number(1, MAX_BATCH), default=100,
                   help=f"operations per Dataverse $batch (1..{MAX_BATCH}, default 100)")
    p.add_argument("--rate", type=positive_float, default=10.0,
                   help="Strivacity requests per second, and 10x that per minute (default 10: "
                        "the Admin API's per-IP limits, 10/s and 100/min)")
    p.add_argument("--execute", action="store_true",
                   help="send (default: a dry run that shows the changes per record and field "
                        "and needs no settings)")
    p.add_argument("--rollback", action="store_true",
                   help="restore the earlier values of applied Dynamics updates")
    p.add_argument("--force", action="store_true",
                   help="apply a run older than --max-age or of an unrecorded/other tenant")
    p.add_argument("--max-age", type=positive_float, default=24.0, metavar="HOURS",
                   help="refuse run folders older than this (default 24)")
    p.add_argument("--max-changes", type=whole_number(0), default=None, metavar="N",
                   help="allow up to N changes (default: the larger of 100 and 10%% of the "
                        "target side's records in summary.json)")
    p.add_argument("--poll-interval", type=positive_float, default=2.0, metavar="SECONDS",
                   help="seconds between bulk job status checks (default 2)")
    return p


def options_from(args: argparse.Namespace) -> ApplyOptions:
    return ApplyOptions(target=args.target, execute=args.execute, only=tuple(args.only),
                        limit=args.limit, batch_size=args.batch_size, rate=args.rate,
                        rollback=args.rollback, force=args.force, max_age_hours=args.max_age,
                        poll_interval=args.poll_interval, max_changes=args.max_changes)


def main_apply(argv: Sequence[str] | None = None) -> int:
    """Run ``recon apply`` with ``argv``; returns the exit code."""
    try:
        args = parser().parse_args(argv)
        report = apply_run(args.run_dir, options_from(args), say=print)
    except (ReconError, KeyboardInterrupt) as error:
        return report_error(error)  # the one handler: the exit code is the error class's
    print("\n".join(report.lines()))
    if not report.executed:
        print("Nothing was sent (apply/changes.txt lists every change, apply/plan.json the "
              "requests). Add --execute to apply.")
    return EXIT_FAILED if report.exit_code else EXIT_OK
