"""Time `recon reconcile --engine spark` on local[2] and on a two-worker standalone cluster,
with the DuckDB engine on the same files in the same run as the baseline.

    python benchmarks/spark_bench.py [--contacts 1000000] [--runs 1] [--only duckdb,local,cluster]

The tenant is reconcile_bench's (``tenants.ensure_data``: made once and cached; or ``--data``).
Each contender runs as its own process; memory is sampled every 0.2 s with psutil (installed with
the notebooks extra): the driver's own RSS, and the total RSS of every process of the run (the
driver, the JVM it starts, and on the cluster the master, both workers and their executors),
each at its peak. Sampling can miss a short spike, so the peaks are lower bounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from tenants import HERE, ensure_data

PY = sys.executable
sys.path.insert(0, str(HERE.parent / "tests"))
from spark_cluster import standalone_cluster  # noqa: E402  (the tests' own cluster)

#: Shuffle partitions: Spark's default, 200, is far too many tasks for two cores.
PARTITIONS = int(os.environ.get("RECON_BENCH_PARTITIONS", "8"))
#: Memory for the JVMs (the defaults, 1 GiB each, are too small for 1M x 1M).
SUBMIT = ("--driver-memory 6g --conf spark.executor.memory=3g --conf spark.ui.enabled=false "
          f"--conf spark.sql.shuffle.partitions={PARTITIONS}")


def _tree_rss(roots: list[psutil.Process]) -> int:
    total = 0
    for root in roots:
        try:
            for proc in [root, *root.children(recursive=True)]:
                total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def sampled(argv: list[str], env: dict[str, str], others: list[psutil.Process]
            ) -> tuple[float, float, float]:
    """Seconds, the driver's peak RSS and the peak RSS of all the run's processes (MiB)."""
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: Spark's logs never block it
        start = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
        driver, peak_driver, peak_all = psutil.Process(child.pid), 0, 0
        while child.poll() is None:
            try:
                peak_driver = max(peak_driver, driver.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            peak_all = max(peak_all, _tree_rss([driver, *others]))
            time.sleep(0.2)
        child.wait()
        seconds = time.perf_counter() - start
        log.seek(0)
        err = log.read().decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}:\n{err[-3000:]}")
    return seconds, peak_driver / 2**20, peak_all / 2**20


@contextmanager
def cluster(base: Path) -> Iterator[tuple[str, list[psutil.Process]]]:
    """The tests' standalone cluster (master and two one-core workers) with 4 GiB workers."""
    running = standalone_cluster(base, worker_memory="4g")
    found = next(running)
    try:
        yield found.master, [psutil.Process(pid) for pid in found.pids]
    finally:
        running.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None, help="a tenant folder to use")
    parser.add_argument("--only", default="duckdb,local,cluster")
    args = parser.parse_args()
    data = args.data or ensure_data(args.contacts, args.seed)
    out = HERE / "out" / "spark-runs"
    env = {**os.environ, "RECON_PROGRESS": "0", "PYSPARK_PYTHON": PY,
           "PYSPARK_SUBMIT_ARGS": f"{SUBMIT} pyspark-shell"}
    base = [PY, "-m", "recon.cli", "reconcile", "--dynamics", str(data / "dynamics_contacts.csv"),
            "--strivacity", str(data / "strivacity_accounts.ndjson")]
    chosen = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="recon-spark-bench-") as scratch:
        for run in range(args.runs):
            for name in chosen:
                shutil.rmtree(out / name, ignore_errors=True)
                argv = [*base, "--out", str(out / name)]
                if name == "duckdb":
                    figures = sampled([*argv, "--engine", "duckdb"], env, [])
                elif name == "local":
                    figures = sampled([*argv, "--engine", "spark", "--spark-master", "local[2]"],
                                      env, [])
                else:
                    (Path(scratch) / f"cluster-{run}").mkdir()
                    with cluster(Path(scratch) / f"cluster-{run}") as (master, pids):
                        figures = sampled([*argv, "--engine", "spark", "--spark-master",
                                           master], env, pids)
                secs, driver, total = figures
                print(f"run {run + 1}/{args.runs} {name:<8} {secs:8.1f} s  driver "
                      f"{driver:6.0f} MiB  all processes {total:6.0f} MiB", flush=True)
    same = all(_same(out / "duckdb", out / name) for name in chosen if name != "duckdb")
    print(f"run folders identical to DuckDB's: {same}")
    return 0 if same else 1


def _same(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files)


if __name__ == "__main__":
    sys.exit(main())
