"""Time the engine step alone: today's engine (`recon.engine.reconcile`) against the SQL engine
on DuckDB (`recon.engine.sql.reconcile`), on the same canonical frames.

    python benchmarks/sql_engine_bench.py [--contacts 1000000] [--runs 3] [--memory-limit 2GB]

The canonical frames of the reconcile benchmark's tenant (90% overlap, 5% drift, 1% duplicate
emails; generated once under benchmarks/out/) are loaded once and cached as a pickle. Each run
is its own process, engines interleaved: it unpickles the frames, times the engine call, and
reports the seconds, the peak RSS before the call (the frames alone) and the process's peak RSS.
Prints the medians and the ratio of the SQL engine's median to today's.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
from pathlib import Path

from measure import timed_child

HERE = Path(__file__).resolve().parent
ENGINES = ("engine", "sql")


def cached_frames(contacts: int, seed: int) -> Path:
    """The pickled canonical frames of the benchmark tenant, loaded on first use."""
    from reconcile_bench import ensure_data

    cache = HERE / "out" / f"frames-{contacts}-{seed}.pickle"
    if not cache.exists():
        from recon import read_dynamics, read_strivacity

        data = ensure_data(contacts, seed)
        print(f"loading {data} once (cached in {cache.name}) ...", flush=True)
        frames = (read_dynamics(data / "dynamics_contacts.csv"),
                  read_strivacity(data / "strivacity_accounts.ndjson"))
        with cache.open("wb") as f:
            pickle.dump(frames, f, protocol=pickle.HIGHEST_PROTOCOL)
    return cache


def child(cache: Path, engine: str, memory_limit: str | None) -> int:
    """One timed engine call: prints {"seconds", "before_mib", "peak_mib"} as JSON."""
    from recon.engine import reconcile
    from recon.engine.sql import reconcile as sql_reconcile

    with cache.open("rb") as f:
        dynamics, strivacity = pickle.load(f)
    if engine == "sql":
        return timed_child(lambda: sql_reconcile(dynamics, strivacity, memory_limit=memory_limit))
    return timed_child(lambda: reconcile(dynamics, strivacity))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), args.child[1], args.memory_limit)
    cache = cached_frames(args.contacts, args.seed)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in ENGINES}
    extra = ["--memory-limit", args.memory_limit] if args.memory_limit else []
    for run in range(args.runs):
        for name in ENGINES:
            done = subprocess.run([sys.executable, __file__, "--child", str(cache), name, *extra],
                                  capture_output=True, text=True, check=True)
            runs[name].append(json.loads(done.stdout.splitlines()[-1]))
            r = runs[name][-1]
            print(f"run {run + 1}/{args.runs} {name:<7} {r['seconds']:6.2f} s  "
                  f"RSS before {r['before_mib']:6.0f} MiB  peak {r['peak_mib']:6.0f} MiB",
                  flush=True)
    medians = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    print(f"\n{args.contacts:,} contacts x {args.contacts:,} accounts, engine step only, "
          f"{args.runs} runs each (memory limit {args.memory_limit or 'DuckDB default'})")
    for name, rs in runs.items():
        print(f"{name:<7} median {medians[name]:6.2f} s (min {min(r['seconds'] for r in rs):.2f},"
              f" max {max(r['seconds'] for r in rs):.2f})  peak RSS "
              f"{max(r['peak_mib'] for r in rs):6.0f} MiB (frames alone "
              f"{max(r['before_mib'] for r in rs):.0f} MiB)")
    print(f"sql / engine: {medians['sql'] / medians['engine']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
