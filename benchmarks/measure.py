"""Run a command several times as a child process; report wall time and the child's peak RSS."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    """Wall seconds and peak resident memory (MiB) of each run of one command."""

    name: str
    seconds: tuple[float, ...]
    peak_mib: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak(self) -> float:
        return max(self.peak_mib)


def run_once(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Seconds and peak RSS in MiB of one run; raises if the command fails.

    A child's ``ru_maxrss`` starts at its parent's RSS (Linux carries the parent's high-water
    mark through fork or vfork and exec), so a harness holding a 300 MiB tenant would report
    300 MiB for a child that never used that much. The command is therefore started by a small
    launcher process (this file run as a script), which times it and reports its peak.
    """
    launcher = [sys.executable, "-S", str(Path(__file__).resolve()), "--launch", *argv]
    proc = subprocess.run(launcher, env=env, capture_output=True, check=False)
    stderr = proc.stderr.decode(errors="replace")
    try:
        report = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (IndexError, ValueError) as exc:
        raise RuntimeError(f"the launcher for {' '.join(argv)} failed:\n{stderr[-2000:]}") from exc
    if report["exit"] != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {report['exit']}:\n{stderr[-2000:]}")
    return report["seconds"], report["maxrss_kib"] / 1024  # ru_maxrss is KiB on Linux


def _launch(argv: list[str]) -> int:
    """Run ``argv`` (its stdout discarded) and print its seconds, exit code and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "seconds": seconds,
                      "maxrss_kib": usage.ru_maxrss}))
    return 0


def peak_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed_child(work: Callable[[], object]) -> int:
    """A benchmark child's report, printed as one JSON line: the seconds ``work`` takes, the
    peak RSS before it (what the child loaded first) and the whole process's peak."""
    before = peak_mib()
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "before_mib": before, "peak_mib": peak_mib()}))
    return 0


def measure(name: str, argv: list[str], runs: int, env: dict[str, str] | None = None) -> Timing:
    """Run ``argv`` ``runs`` times, interleaving nothing else; returns every figure."""
    results = [run_once(argv, env) for _ in range(runs)]
    return Timing(name, tuple(r[0] for r in results), tuple(r[1] for r in results))


if __name__ == "__main__" and sys.argv[1:2] == ["--launch"]:
    sys.exit(_launch(sys.argv[2:]))
