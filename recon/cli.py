"""The ``recon`` command: parses arguments, calls one library function, prints.

Exit codes live on the error classes (``recon.errors``, also the README's table): a command
returns 0 or raises, and ``main``'s one handler prints the message and returns its code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from recon import interrupts
from recon.clihelp import BOTH_ENV, PROGRESS, Parser, check_engine_flags, epilog, recon_version
from recon.cliparsers import PARSERS, RUNS_DIR, add_delegated
from recon.errors import EXIT_OK, ConfigError, InputError, ReconError, exit_codes
from recon.errors import report as report_error
from recon.fields import load_fields

__all__ = ["RUNS_DIR", "build_parser", "main", "run_stamp"]


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
    try:
        out = generate(args.out, contacts=args.contacts, accounts=args.accounts, seed=args.seed)
    except ValueError as exc:  # the sample's own checks of its sizes, one sentence each
        raise ConfigError(f"--contacts {args.contacts} --accounts {args.accounts}: {exc}") \
            from None
    print(f"sample tenant written to {out}")
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from recon.api import EngineOptions, reconcile_files
    from recon.apply.state import fresh_out
    formats = {"dynamics": args.dynamics_format, "strivacity": args.strivacity_format}
    for side in formats:
        check_format(side, getattr(args, side), formats[side])
    check_engine_flags(args.engine, args.memory_limit, args.temp_dir, args.spark_master)
    engine = EngineOptions(args.engine, args.memory_limit, args.temp_dir, args.spark_master)
    with fresh_out(args.out, overwrite=args.overwrite) as folder:
        result, _ = reconcile_files(args.dynamics, args.strivacity, folder, fields=args.fields,
                                    allow_empty=args.allow_empty, formats=formats,
                                    engine=engine)
    print(f"run folder: {args.out}")
    print("\n".join(_summary_lines(result.summary)))
    return EXIT_OK


def check_format(side: str, path: Path, given: str | None) -> None:
    """Refuse, before reading anything, a file whose format the extension does not tell."""
    from recon.api import SIDES
    known = SIDES[side].readers
    if given is None and path.suffix.lower().lstrip(".") not in known:
        raise InputError(f"cannot tell the format from the extension {path.suffix!r}",
                         file=str(path), fix=f"Pass --{side}-format with one of "
                                             f"{', '.join(known)} (or rename the file)")


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
    from recon.lookup import lookup_person
    found = lookup_person(args.email, systems=LOOKUP_SYSTEMS[args.where],
                          fields=load_fields(args.fields))
    print("\n".join(found.lines()))
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
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sample": cmd_sample, "reconcile": cmd_reconcile, "demo": cmd_demo, "pull": cmd_pull,
    "lookup": cmd_lookup, "report": cmd_report, "check": cmd_check}
LOOKUP_SYSTEMS = {"both": ("dynamics", "strivacity"), "dynamics": ("dynamics",),
                  "strivacity": ("strivacity",)}
DESCRIPTION = """\
Reconcile Dynamics 365 (Dataverse) contacts with Strivacity accounts: pair them on the primary
email and the link the account stores, report duplicates and drift, and write the batches that
close the gap. `recon COMMAND --help` shows each command's options, examples and settings."""


def _no_command(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return ConfigError.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="recon", description=DESCRIPTION, epilog=epilog(
        ["recon demo                     # the sample tenant, end to end, on the emulator",
         "recon reconcile --dynamics contacts.csv --strivacity accounts.ndjson --out runs/today",
         "recon lookup anna@example.com  # one person in both systems, and what recon decides"],
        BOTH_ENV, PROGRESS, note="exit codes: " + ", ".join(
            f"{code} {means.split(' (')[0].split(':')[0]}"
            for code, means in exit_codes().items()) + "."))
    parser.add_argument("--version", action="version", version=f"recon {recon_version()}")
    parser.set_defaults(func=lambda _args: _no_command(parser))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, add in PARSERS.items():
        add(sub).set_defaults(func=COMMANDS[name])
    add_delegated(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors become a one-line message and a meaningful exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with interrupts.handled():
            if argv and argv[0] in DELEGATED:
                args = argparse.Namespace(argv=argv[1:], func=DELEGATED[argv[0]])
            else:
                args = build_parser().parse_args(argv)
            func: Callable[[argparse.Namespace], int] = args.func
            return func(args)
    except (ReconError, KeyboardInterrupt) as exc:
        return report_error(exc)


if __name__ == "__main__":
    sys.exit(main())
