"""Time writing the run folder alone, without loading or reconciling.

    python benchmarks/write_bench.py [--contacts 1000000] [--runs 3] [--rebuild] [--source plan]

`--source frames` (the default): the Reconciliation of the reconcile benchmark's tenant is built
once and cached as a pickle under benchmarks/out/ (`--rebuild` builds it again, e.g. after the
engine changed); each run unpickles it and times `result.write` (a notebook's path: the result's
pandas frames through `recon.runwriter`). `--source plan`: each run loads the tenant into DuckDB
and runs the plan untimed, then times streaming the run folder out of DuckDB's tables (what
`recon reconcile --engine duckdb` does). Each run is its own process, writing into
benchmarks/out/runs/write/; it reports the seconds, the peak RSS before writing and the peak RSS
of the whole process.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from measure import timed_child

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "runs" / "write"


def cached_result(contacts: int, seed: int, rebuild: bool) -> Path:
    """The pickled Reconciliation of the benchmark tenant, built on first use."""
    from reconcile_bench import ensure_data

    cache = HERE / "out" / f"result-{contacts}-{seed}.pickle"
    if rebuild or not cache.exists():
        from recon import read_dynamics, read_strivacity, reconcile

        data = ensure_data(contacts, seed)
        print(f"reconciling {data} once (cached in {cache.name}) ...", flush=True)
        result = reconcile(read_dynamics(data / "dynamics_contacts.csv"),
                           read_strivacity(data / "strivacity_accounts.ndjson"))
        with cache.open("wb") as f:
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    return cache


def child(cache: Path) -> int:
    """One timed write: prints {"seconds", "before_mib", "peak_mib"} as JSON."""
    with cache.open("rb") as f:
        result = pickle.load(f)
    shutil.rmtree(OUT, ignore_errors=True)
    return timed_child(lambda: result.write(OUT))


def plan_child(data: Path) -> int:
    """One timed write streamed from DuckDB's tables (the plan is run untimed first)."""
    from recon.engine.sql import frames
    from recon.engine.sql.duckdb_engine import DuckDB
    from recon.engine.sql.job import Exports, plan_sources, register_inputs
    from recon.engine.sql.run import run_steps
    from recon.fields import DEFAULT_FIELDS
    from recon.runwriter import write_run_folder

    exports = Exports(data / "dynamics_contacts.csv", data / "strivacity_accounts.ndjson")
    with DuckDB() as db:
        register_inputs(db, exports, DEFAULT_FIELDS)
        run_steps(db, DEFAULT_FIELDS)
        summary = frames.summary(db, DEFAULT_FIELDS)
        shutil.rmtree(OUT, ignore_errors=True)
        return timed_child(lambda: write_run_folder(summary, plan_sources(db, DEFAULT_FIELDS),
                                                    OUT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--source", choices=("frames", "plan"), default="frames")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plan-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    if args.plan_child:
        return plan_child(args.plan_child)
    if args.source == "plan":
        from reconcile_bench import ensure_data
        job = ["--plan-child", str(ensure_data(args.contacts, args.seed))]
    else:
        job = ["--child", str(cached_result(args.contacts, args.seed, args.rebuild))]
    runs = []
    for run in range(args.runs):
        done = subprocess.run([sys.executable, __file__, *job],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.splitlines()[-1]))
        r = runs[-1]
        print(f"run {run + 1}/{args.runs}  write {r['seconds']:6.2f} s  "
              f"RSS before {r['before_mib']:6.0f} MiB  peak {r['peak_mib']:6.0f} MiB", flush=True)
    median = statistics.median(r["seconds"] for r in runs)
    print(f"\n{args.contacts:,} per side ({args.source}): write median {median:.2f} s "
          f"(min {min(r['seconds'] for r in runs):.2f}, max {max(r['seconds'] for r in runs):.2f}),"
          f" peak RSS {max(r['peak_mib'] for r in runs):.0f} MiB "
          f"(result alone {max(r['before_mib'] for r in runs):.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
