"""Time writing the run folder (`recon.outputs.write_run`) alone, without loading or reconciling.

    python benchmarks/write_bench.py [--contacts 1000000] [--runs 3] [--rebuild]

The Reconciliation of the reconcile benchmark's tenant is built once and cached as a pickle under
benchmarks/out/ (`--rebuild` builds it again, e.g. after the engine changed). Each run is its own
process: it unpickles the result, times `write_run` into benchmarks/out/runs/write/, and reports
the seconds, the peak RSS before writing (the result alone) and the peak RSS of the whole process.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "runs" / "write"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


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
    from recon.outputs import write_run

    with cache.open("rb") as f:
        result = pickle.load(f)
    before = _peak_mib()
    shutil.rmtree(OUT, ignore_errors=True)
    start = time.perf_counter()
    write_run(result, OUT)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "before_mib": before, "peak_mib": _peak_mib()}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    cache = cached_result(args.contacts, args.seed, args.rebuild)
    runs = []
    for run in range(args.runs):
        done = subprocess.run([sys.executable, __file__, "--child", str(cache)],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.splitlines()[-1]))
        r = runs[-1]
        print(f"run {run + 1}/{args.runs}  write_run {r['seconds']:6.2f} s  "
              f"RSS before {r['before_mib']:6.0f} MiB  peak {r['peak_mib']:6.0f} MiB", flush=True)
    median = statistics.median(r["seconds"] for r in runs)
    print(f"\n{args.contacts:,} per side: write_run median {median:.2f} s "
          f"(min {min(r['seconds'] for r in runs):.2f}, max {max(r['seconds'] for r in runs):.2f}),"
          f" peak RSS {max(r['peak_mib'] for r in runs):.0f} MiB "
          f"(result alone {max(r['before_mib'] for r in runs):.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
