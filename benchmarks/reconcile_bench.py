"""Time `recon reconcile` (load -> run folder) against hand-rolled baselines in the same run.

    python benchmarks/reconcile_bench.py [--contacts 1000000] [--runs 3] [--only recon,duckdb]
                                         [--engine numpy|duckdb]

Generates (once, cached under benchmarks/out/) a tenant of N contacts and N accounts with 90%
overlap, 5% drift and 1% duplicate emails per side, then runs each contender as its own process,
round-robin, `--runs` times. Prints the median, min and max seconds, the ratio of each baseline's
median to recon's, and each contender's peak RSS.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from measure import Timing, run_once

HERE = Path(__file__).resolve().parent
PY = sys.executable


def ensure_data(contacts: int, seed: int) -> Path:
    """Generate the benchmark tenant once; later runs reuse it."""
    folder = HERE / "out" / f"tenant-{contacts}-{seed}"
    if not (folder / "truth.json").exists():
        from recon.sample import generate

        print(f"generating {contacts:,} contacts and accounts into {folder} ...", flush=True)
        generate(folder, contacts=contacts, accounts=contacts, seed=seed,
                 overlap=0.9, drift=0.05, duplicates=0.01)
    return folder


def contenders(data: Path, out: Path, engine: str | None = None) -> dict[str, list[str]]:
    dyn, stv = str(data / "dynamics_contacts.csv"), str(data / "strivacity_accounts.ndjson")
    recon = [PY, "-m", "recon.cli", "reconcile", "--dynamics", dyn, "--strivacity", stv,
             "--out", str(out / "recon"), *(["--engine", engine] if engine else [])]
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
    parser.add_argument("--engine", choices=("numpy", "duckdb"),
                        help="recon's engine (recon reconcile --engine); default: recon's own")
    args = parser.parse_args()
    data = ensure_data(args.contacts, args.seed)
    out = HERE / "out" / "runs"
    chosen = {k: v for k, v in contenders(data, out, args.engine).items()
              if k in args.only.split(",")}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in chosen}
    for run in range(args.runs):
        for name, argv in chosen.items():
            shutil.rmtree(out / name, ignore_errors=True)
            figures[name].append(run_once(argv))
            secs, mib = figures[name][-1]
            print(f"run {run + 1}/{args.runs} {name:<10} {secs:7.2f} s  {mib:7.0f} MiB", flush=True)
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
