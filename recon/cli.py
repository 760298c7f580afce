"""The ``recon`` command: parses arguments, calls one library function, prints.

Exit codes live on the error classes (``recon.errors``, also the README's table): a command
returns 0 or raises, and ``main``'s one handler prints the message and returns its code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from recon.errors import EXIT_OK, ReconError, exit_codes
from recon.errors import report as report_error
from recon.fields import load_fields
from recon.settings import VARIABLES

RUNS_DIR = Path("data/runs")


def run_stamp(label: str | None = None) -> str:
    """A sortable UTC stamp for run folders, e.g. ``20261126T052657Z-nightly``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{label}" if label else stamp


def _summary_lines(summary: dict) -> list[str]:
    lines = []
    for side in ("dynamics", "strivacity"):
        s = summary[side]
        lines.append(f"  {side:<10} {s['records']:>8} records: {s['matched']} matched, "
                     f"{s['only']} only, {s['review']} review, "
                     f"{s['duplicate_groups']} duplicate groups")
    pairs, drift = summary["pairs"], summary["drift"]
    lines.append(f"  pairs      {pairs['total']:>8} ({pairs['by_link']} by link, "
                 f"{pairs['by_email']} by email); {drift['pairs']} with drift")
    lines.append("  batches    " + ", ".join(f"{k} {v}" for k, v in summary["batches"].items()))
    return lines


def cmd_sample(args: argparse.Namespace) -> int:
    from recon.sample import generate
    out = generate(args.out, contacts=args.contacts, accounts=args.accounts, seed=args.seed)
    print(f"sample tenant written to {out}")
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from recon.api import reconcile_files
    result, out = reconcile_files(args.dynamics, args.strivacity, args.out, fields=args.fields,
                                  allow_empty=args.allow_empty)
    print(f"run folder: {out}")
    print("\n".join(_summary_lines(result.summary)))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from recon.demo import run_demo
    print("Serving the bundled sample tenant on the local HTTPS emulator and running the report "
          "against it (msal, Dataverse and Strivacity APIs, engine, notebook) ...", flush=True)
    outcome = run_demo(args.runs_dir)
    if outcome.summary:
        print("\n".join(_summary_lines(outcome.summary)))
    print(f"Run folder: {outcome.run_dir}")
    if outcome.html:
        print(f"Report:     {outcome.html}")
    if outcome.error:
        print(f"recon: the demo report failed: {outcome.error}", file=sys.stderr)
    return outcome.exit_code


def cmd_emulator(args: argparse.Namespace) -> int:
    from recon.emulator.cli import serve_forever
    return serve_forever(args.argv)



def cmd_pull(args: argparse.Namespace) -> int:
    fields = load_fields(args.fields)
    if args.side == "dynamics":
        from recon.dynamics.pull import pull_dynamics_raw
        raw = pull_dynamics_raw(fields=fields, streams=args.streams, delta=args.delta,
                                out=args.out)
        deleted = raw.attrs.get("deleted", ())
        print(f"{len(raw)} contacts written to {args.out}"
              + (f" ({len(deleted)} deleted since the last pull)" if args.delta else ""))
    else:
        from recon.strivacity.pull import pull_strivacity
        frame = pull_strivacity(since=args.since, out=args.out, fields=fields)
        print(f"{len(frame)} accounts written to {args.out}")
    return EXIT_OK


def cmd_lookup(args: argparse.Namespace) -> int:
    from recon.dynamics.pull import lookup
    found = lookup(args.email)
    if found.empty:
        print(f"no contact has emailaddress1 = {args.email!r}")
        return EXIT_OK
    print(found.to_string(index=False))
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    from recon.apply import main_apply
    return main_apply(args.argv)


def cmd_report(args: argparse.Namespace) -> int:
    from recon.runner import cmd_report as run
    return run(args)


def cmd_check(args: argparse.Namespace) -> int:
    from recon.check import SYSTEMS, iter_checks, verdict
    checks = []
    for check in iter_checks(args.system or SYSTEMS):
        print(check.line(), flush=True)
        checks.append(check)
    failure = verdict(checks)
    if failure is not None:
        raise failure
    print("all checks passed")
    return EXIT_OK


#: Commands with parsers of their own: main() hands them their arguments unparsed.
DELEGATED = {"apply": cmd_apply, "emulator": cmd_emulator}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recon", description="Reconcile Dynamics 365 contacts "
                                     "with Strivacity accounts.",
                                     epilog="Exit codes: " + ", ".join(
                                         f"{code} {means.split(' (')[0].split(':')[0]}"
                                         for code, means in exit_codes().items()) + ".")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sample", help="write a deterministic sample tenant (CSV + NDJSON + truth)")
    p.add_argument("--out", required=True, type=Path, help="folder to write into")
    p.add_argument("--contacts", type=int, default=2000, help="Dynamics contacts (default 2000)")
    p.add_argument("--accounts", type=int, default=None, help="Strivacity accounts (default: same)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("reconcile", help="reconcile two exports into a run folder")
    p.add_argument("--dynamics", required=True, type=Path,
                   help="contacts: csv/parquet/json/jsonl/xlsx")
    p.add_argument("--strivacity", required=True, type=Path,
                   help="accounts: ndjson/jsonl/json/csv")
    p.add_argument("--out", required=True, type=Path, help="run folder to write")
    p.add_argument("--fields", type=Path, default=None,
                   help="TOML field map overriding the defaults")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept a side with zero records (refused by default: a header-only "
                        "export would batch the whole other side for creation)")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("demo", help="serve the sample tenant on the emulator and run the report "
                                    "live against it into data/runs/<stamp>-demo")
    p.add_argument("--runs-dir", type=Path, default=RUNS_DIR, help="where run folders go")
    p.set_defaults(func=cmd_demo)

    # apply and emulator parse their own arguments (DELEGATED): listed here for --help only.
    sub.add_parser("emulator", add_help=False,
                   help="serve the local HTTPS emulator of Entra, Dataverse and Strivacity")

    p = sub.add_parser("pull", help="pull live data (settings from the environment)")
    p.add_argument("side", choices=("dynamics", "strivacity"), help="which system to pull")
    p.add_argument("--out", required=True, type=Path,
                   help="dynamics: .parquet/.csv/.jsonl of raw rows; strivacity: .ndjson. "
                        "Replaced only by a complete pull; records the tenant and time")
    p.add_argument("--fields", type=Path, default=None, help="TOML field map")
    p.add_argument("--streams", type=int, default=1,
                   help="dynamics: parallel createdon ranges (default 1, at most 16)")
    p.add_argument("--delta", type=Path, default=None,
                   help="dynamics: change-tracking state file; the next pull applies changes only")
    p.add_argument("--since", default=None,
                   help="strivacity: only accounts updated since (ISO timestamp or -P1D)")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("lookup", help="the Dynamics contacts whose primary email is EMAIL")
    p.add_argument("email", help="the address to look up (quoted safely for OData)")
    p.set_defaults(func=cmd_lookup)

    sub.add_parser("apply", add_help=False,
                   help="push a run's batches to Dynamics or Strivacity: a dry run unless "
                        "--execute; journaled and resumable")

    from recon.runner import add_arguments
    p = sub.add_parser("report", help="run the reconciliation report notebook into a run folder")
    add_arguments(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("check", help="check the settings and that each system lets recon sign "
                                     "in, read, and write what apply will write",
                       description="One line per check (settings, token, a read, the "
                                   "permissions apply needs), each naming the fix. Exit 0 when "
                                   "all pass, 2 for settings, 4 when a service refused.",
                       epilog="Reads " + ", ".join(VARIABLES) + ". Example: eval \"$(recon "
                              "emulator --env --background)\" && recon check")
    p.add_argument("system", nargs="*", metavar="SYSTEM",
                   help="dynamics and/or strivacity: check only these (default: both)")
    p.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors become a one-line message and a meaningful exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in DELEGATED:
            args = argparse.Namespace(argv=argv[1:], func=DELEGATED[argv[0]])
        else:
            args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except (ReconError, KeyboardInterrupt) as exc:
        return report_error(exc)


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
