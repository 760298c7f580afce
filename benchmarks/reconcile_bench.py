"""Time `recon reconcile` (load -> run folder) against hand-rolled baselines in the same run.

    python benchmarks/reconcile_bench.py [--contacts 1000000] [--runs 3] [--only recon,duckdb]
        [--accounts ndjson|csv] [--first-sync] [--engine ENGINE] [--memory-limit 3GB]

Generates (once, cached under benchmarks/out/ or RECON_BENCH_DATA; see tenants.py) a tenant of
N contacts and N accounts with 90% overlap, 5% drift and 1% duplicate emails per side, then runs
each contender as its own process, round-robin, `--runs` times. `--accounts csv` gives every
contender the accounts as a Strivacity CSV export instead of NDJSON; `--first-sync` uses the
variant where every pair differs in every field. Prints the median, min and max seconds, the
ratio of each baseline's median to recon's, and each contender's peak RSS.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from measure import Timing, run_once
from tenants import CONTACTS, accounts_csv, ensure_data, first_sync

HERE = Path(__file__).resolve().parent
PY = sys.executable
__all__ = ["ensure_data", "main"]


def contenders(data: Path, accounts: Path, out: Path, recon_options: list[str]
               ) -> dict[str, list[str]]:
    dyn, stv = str(data / CONTACTS), str(accounts)
    recon = [PY, "-m", "recon.cli", "reconcile", "--dynamics", dyn, "--strivacity", stv,
             "--out", str(out / "recon"), *recon_options]
    base = [PY, str(HERE / "baselines.py")]
    return {"recon": recon,
            **{name: [*base, name, dyn, stv, str(out / name)]
               for name in ("duckdb", "pandas", "datacompy")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="recon,duckdb,pandas,datacompy")
    parser.add_argument("--accounts", choices=("ndjson", "csv"), default="ndjson",
                        help="the Strivacity export's format every contender reads")
    parser.add_argument("--first-sync", action="store_true",
                        help="every pair differs in every field")
    parser.add_argument("--engine", help="recon's --engine (default: recon's default)")
    parser.add_argument("--memory-limit", help="recon's --memory-limit")
    args = parser.parse_args()
    data = ensure_data(args.contacts, args.seed)
    if args.first_sync:
        data = first_sync(data)
    accounts = accounts_csv(data) if args.accounts == "csv" else data / "strivacity_accounts.ndjson"
    options = [*(["--engine", args.engine] if args.engine else []),
               *(["--memory-limit", args.memory_limit] if args.memory_limit else [])]
    out = HERE / "out" / "runs"
    chosen = {k: v for k, v in contenders(data, accounts, out, options).items()
              if k in args.only.split(",")}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in chosen}
    for run in range(args.runs):
        for name, argv in chosen.items():
            shutil.rmtree(out / name, ignore_errors=True)
            figures[name].append(run_once(argv))
            secs, mib = figures[name][-1]
            print(f"run {run + 1}/{args.runs} {name:<10} {secs:7.2f} s  {mib:7.0f} MiB", flush=True)
    print(f"\naccounts as {args.accounts}{', first sync' if args.first_sync else ''}; "
          f"recon {' '.join(options) or '(default engine)'}")
    report([Timing(n, tuple(s for s, _ in f), tuple(m for _, m in f)) for n, f in figures.items()],
           args.contacts)
    return 0


def report(timings: list[Timing], contacts: int) -> None:
    recon = next((t for t in timings if t.name == "recon"), None)
    print(f"\n{contacts:,} contacts x {contacts:,} accounts, {len(timings[0].seconds)} runs each")
    print(f"{'contender':<10} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MiB':>9}  ratio")
    for t in timings:
        ratio = f"{t.median / recon.median:5.2f}x recon's time" if recon else ""
        print(f"{t.name:<10} {t.median:9.2f} {min(t.seconds):7.2f} {max(t.seconds):7.2f} "
              f"{t.peak:9.0f}  {ratio}")


if __name__ == "__main__":
    sys.exit(main())
