"""Spark for the tests: one small local session per module, and a real standalone cluster (a
master and two workers on loopback, started from the pyspark package's own ``spark-class``).

Both need Java; without it the tests that use them skip, saying so. Workers run this Python
(``PYSPARK_PYTHON``), so they import the recon under test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NO_JAVA = "Spark needs Java 17+ and `java` is not on PATH (.ci/run installs openjdk-17)"
#: A Spark small enough for two shared cores: few shuffle partitions, no UI.
SMALL = {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
         "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "2g"}
READY_WITHIN = 180.0  # seconds for the master and both workers to come up


def need_java() -> None:
    if shutil.which("java") is None:
        pytest.skip(NO_JAVA)


def local_session() -> Any:
    """A local[2] SparkSession with the small settings (the caller stops it)."""
    need_java()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    builder = SparkSession.builder.master("local[2]").appName("recon-tests")
    for key, value in SMALL.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster: its master URL, and the environment a driver needs."""

    master: str
    env: dict[str, str]
    pids: tuple[int, ...]  # the master's and workers' launchers (their JVMs are children)


def _spark_class(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    import pyspark
    script = Path(pyspark.__file__).parent / "bin" / "spark-class"
    with log.open("wb") as out:  # the child keeps its own handle
        return subprocess.Popen([str(script), *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json", timeout=5) as reply:
            state = json.load(reply)
    except OSError:
        return 0
    return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # its own group: spark-class and its java
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _wait_ready(ui_port: int, processes: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while _alive_workers(ui_port) < 2:
        died = [p.args for p in processes if p.poll() is not None]
        if died or time.monotonic() > deadline:
            tails = "\n".join(f"{log.name}: {log.read_text(errors='replace')[-1500:]}"
                              for log in sorted(logs.glob("*.log")))
            raise RuntimeError(f"the standalone cluster did not come up ({died or 'timeout'})"
                               f":\n{tails}")
        time.sleep(0.5)  # polling the master's JSON for two ALIVE workers, bounded above


def standalone_cluster(base: Path, worker_memory: str = "1g") -> Iterator[Cluster]:
    """Start a master and two one-core workers on 127.0.0.1; yield once both are ALIVE."""
    need_java()
    port, ui_port = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(base),
           "PYSPARK_PYTHON": sys.executable, "SPARK_WORKER_DIR": str(base / "work")}
    processes = [_spark_class("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                              "--port", str(port), "--webui-port", str(ui_port),
                              env=env, log=base / "master.log")]
    try:
        for i in range(2):
            processes.append(_spark_class(
                "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                "--host", "127.0.0.1", "--cores", "1", "--memory", worker_memory,
                "--webui-port", str(free_port()), env=env, log=base / f"worker{i}.log"))
        _wait_ready(ui_port, processes, base)
        yield Cluster(f"spark://127.0.0.1:{port}", env, tuple(p.pid for p in processes))
    finally:
        for process in reversed(processes):
            stop_group(process)
