"""Run a command several times as a child process; report wall time and the child's peak RSS."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass


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
    """Seconds and peak RSS in MiB of one run; raises if the command fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def measure(name: str, argv: list[str], runs: int, env: dict[str, str] | None = None) -> Timing:
    """Run ``argv`` ``runs`` times, interleaving nothing else; returns every figure."""
    results = [run_once(argv, env) for _ in range(runs)]
    return Timing(name, tuple(r[0] for r in results), tuple(r[1] for r in results))
