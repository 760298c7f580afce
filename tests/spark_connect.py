"""A Spark Connect server for the tests: ``local[2]`` inside it, gRPC on a free port of
127.0.0.1 only, started from the pyspark package's own ``spark-submit`` (as
``sbin/start-connect-server.sh`` does, without daemonising) and stopped with its process group.

Ready when its log says it listens and the port takes a connection; never a sleep for the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from spark_cluster import SMALL, free_port, need_java, stop_group

SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
READY_WITHIN = 240.0  # seconds: the JVM, then the gRPC service, on a busy two-core machine
STARTED = "Spark Connect server started at"


@dataclass(frozen=True)
class ConnectServer:
    """A running Spark Connect server: ``remote`` is the ``SPARK_REMOTE`` that names it."""

    remote: str
    log: Path
    pid: int


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while not (STARTED in log.read_text(errors="replace") and _accepts(port)):
        if process.poll() is not None or time.monotonic() > deadline:
            why = f"exited {process.returncode}" if process.poll() is not None else "timeout"
            raise RuntimeError(f"the Spark Connect server did not come up ({why}):\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)  # polling the log and the port, bounded above


def connect_server(base: Path) -> Iterator[ConnectServer]:
    """Start the server; yield once it serves; stop it (and its JVM) afterwards."""
    need_java()
    import pyspark
    port, log = free_port(), base / "connect-server.log"
    settings = {**SMALL, "spark.connect.grpc.binding.address": "127.0.0.1",
                "spark.connect.grpc.binding.port": str(port)}
    argv = [str(Path(pyspark.__file__).parent / "bin" / "spark-submit"), "--class", SERVER,
            "--master", "local[2]", "--name", "recon-tests-connect",
            "--driver-memory", settings.pop("spark.driver.memory")]
    for key, value in settings.items():
        argv += ["--conf", f"{key}={value}"]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_CONNECT_MODE": "0",
           "PYSPARK_PYTHON": sys.executable}  # the server's Python workers import this recon
    for name in ("SPARK_REMOTE", "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET"):
        env.pop(name, None)
    with log.open("wb") as out:  # the child keeps its own handle
        process = subprocess.Popen(argv, env=env, cwd=base, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(process, port, log)
        yield ConnectServer(f"sc://127.0.0.1:{port}", log, process.pid)
    finally:
        stop_group(process)
