"""Time the two loaders alone (``read_dynamics``, ``read_strivacity``) on the benchmark tenant.

    python benchmarks/load_bench.py [--contacts 1000000] [--runs 3] [--only dynamics,strivacity]
                                    [--profile]
    python benchmarks/load_bench.py --inputs [--memory-limit 4GB] [--runs 3]

``--inputs`` times what the DuckDB plan needs instead: both files into its input tables, by
today's loaders (``read_both`` and ``input_table``) against DuckDB's readers (``load_exports``).

Each run is its own process, so peak RSS is the loader's alone. Prints the median wall and CPU
seconds, peak RSS, and the median split between reading the file and building the canonical
frame. ``--profile`` adds one cProfile run per loader listing the functions where time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {"dynamics": "dynamics_contacts.csv", "strivacity": "strivacity_accounts.ndjson"}


def load(side: str, path: Path) -> dict[str, float]:
    """Run one loader in this process; the seconds spent reading and converting."""
    from recon.dynamics import files as dynamics
    from recon.strivacity import files as strivacity

    start = time.perf_counter()  # imports excluded: they are the same before and after
    if side == "dynamics":
        rows = dynamics.READERS["csv"](path)
        read = time.perf_counter()
        frame = dynamics.to_canonical(rows.frame, source=str(path), line_of=rows.line_of,
                                      header_line=rows.header_line)
    else:
        raw, line_of, header_line = strivacity.READERS["ndjson"](path)
        read = time.perf_counter()
        frame = strivacity.to_canonical(raw, source=str(path), line_of=line_of,
                                        header_line=header_line)
    done = time.perf_counter()
    return {"read": read - start, "canonical": done - read, "rows": float(len(frame))}


INPUTS = ("read_both", "load_exports")


def load_inputs(way: str, folder: Path, memory_limit: str | None) -> dict[str, float]:
    """Both files into the plan's input tables ``d`` and ``s`` in DuckDB, one way or the other."""
    from recon.api import read_both
    from recon.engine.sql.duckdb_engine import DuckDB
    from recon.engine.sql.inputs import load_exports
    from recon.engine.sql.run import input_table
    from recon.fields import DEFAULT_FIELDS, DYNAMICS_COLUMNS, STRIVACITY_COLUMNS

    files = folder / FILES["dynamics"], folder / FILES["strivacity"]
    start = time.perf_counter()
    with DuckDB(memory_limit) as db:
        if way == "read_both":
            contacts, accounts = read_both(*files, DEFAULT_FIELDS)
            read = time.perf_counter()
            db.load("d", input_table(contacts, DYNAMICS_COLUMNS))
            db.load("s", input_table(accounts, STRIVACITY_COLUMNS))
        else:
            how = load_exports(db, *files, DEFAULT_FIELDS)
            read = time.perf_counter()
            if (how.dynamics, how.strivacity) != ("duckdb", "duckdb"):
                raise RuntimeError(f"load_exports left a side to the loader: {how}")
        rows = db.arrow("SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM s) AS n")
    done = time.perf_counter()
    return {"read": read - start, "canonical": done - read, "rows": float(rows["n"][0].as_py())}


def run_child(side: str, path: Path, memory_limit: str | None = None) -> dict[str, float]:
    """One loader run in a fresh process: wall, CPU seconds, peak MiB and the phase split."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", side, str(path)]
    if memory_limit:
        argv += ["--memory-limit", memory_limit]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{side} loader failed:\n{err.decode(errors='replace')[-2000:]}")
    figures = json.loads(out.decode().strip().splitlines()[-1])
    return {"wall": wall, **figures}


def child(side: str, path: Path, memory_limit: str | None = None) -> int:
    """The child's entry point: load, then print the figures as one JSON line."""
    phases = load_inputs(side, path, memory_limit) if side in INPUTS else load(side, path)
    usage = os.times()
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({**phases, "cpu": usage.user + usage.system, "peak_mib": peak}))
    return 0


def profile(side: str, path: Path, top: int = 25) -> None:
    """Print the functions where one run of ``side`` spends its time (cProfile, by own time)."""
    profiler = cProfile.Profile()
    profiler.runcall(load, side, path)
    print(f"\n--- {side}: top {top} functions by own time ---")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def report(side: str, runs: list[dict[str, float]],
           phases: tuple[str, str] = ("read", "canonical")) -> None:
    """One line per loader: medians of the runs, and the worst peak RSS."""
    med: Callable[[str], float] = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
    print(f"{side:<12} wall {med('wall'):6.2f} s  cpu {med('cpu'):6.2f} s  "
          f"peak {max(r['peak_mib'] for r in runs):6.0f} MiB  "
          f"{phases[0]} {med('read'):5.2f} s  {phases[1]} {med('canonical'):5.2f} s  ({walls})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="dynamics,strivacity")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--inputs", action="store_true",
                        help="time read_both + input_table against load_exports")
    parser.add_argument("--memory-limit", help="DuckDB's memory limit for --inputs")
    parser.add_argument("--folder", type=Path, help="the tenant folder (default: out/tenant-N-S)")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]), args.memory_limit)
    folder = args.folder or HERE / "out" / f"tenant-{args.contacts}-{args.seed}"
    if not folder.exists():
        print(f"no tenant in {folder}; run reconcile_bench.py --contacts {args.contacts} first")
        return 2
    sides = list(INPUTS) if args.inputs else [s for s in FILES if s in args.only.split(",")]
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
    for n in range(args.runs):
        for side in sides:  # round-robin, so background load hits both sides alike
            path = folder if args.inputs else folder / FILES[side]
            runs[side].append(run_child(side, path, args.memory_limit))
            print(f"run {n + 1}/{args.runs} {side:<11} {runs[side][-1]['wall']:6.2f} s", flush=True)
    print(f"\n{args.contacts:,} records per side, {args.runs} runs each (median)")
    for side in sides:  # --inputs: reading the files, then the rest of making d and s
        report(side, runs[side], ("files", "to tables") if args.inputs else ("read", "canonical"))
    if args.profile and not args.inputs:
        for side in sides:
            profile(side, folder / FILES[side])
    return 0


if __name__ == "__main__":
    sys.exit(main())
