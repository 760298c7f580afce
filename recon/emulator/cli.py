"""``recon emulator``: serve the emulator until SIGINT/SIGTERM, after saying how to reach it.

Ready, it prints one JSON line (URLs, tenant, client credentials, ``ca_bundle``), or with
``--env`` shell lines that set every variable recon reads (``export NAME=value``, shell-quoted)
and end with a ``# recon emulator ready`` comment. ``--background`` starts the emulator as its
own process, prints the same once it serves (plus its pid) and returns, as ``ssh-agent`` does::

    eval "$(recon emulator --env --background)"    # ... recon check, recon report --source live
    kill "$RECON_EMULATOR_PID"
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from types import FrameType
from typing import IO

from recon.clihelp import Parser, epilog, input_file, whole_number
from recon.emulator.emulator import Emulator
from recon.emulator.faults import Faults, parse_faults
from recon.errors import EXIT_OK, ConfigError, JobFailed, ReconError
from recon.errors import report as report_error

READY = "# recon emulator ready"
#: Variables recon reads that the emulator does not use: unset, so none leaks in from a tenant.
UNSET = ("AZURE_CLIENT_CERTIFICATE_PASSWORD",)
#: How long --background waits for the emulator to serve (it takes about a second).
START_TIMEOUT = 120.0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="recon emulator",
        description="Serve Entra, Dataverse and Strivacity on 127.0.0.1 over HTTPS. Prints one "
                    "JSON line (URLs, tenant, client credentials, ca_bundle) when ready, or "
                    "with --env the shell lines that point recon at it.",
        epilog=epilog(['eval "$(recon emulator --env --background)"; recon check; '
                       'kill "$RECON_EMULATOR_PID"',
                       "recon emulator --port 8443 --faults throttle_every=50,retry_after=1",
                       "recon emulator --dynamics contacts.csv --strivacity accounts.ndjson"],
                      note="It reads no settings: --env prints the ones that point recon at it."))
    parser.add_argument("--port", type=whole_number(0, 65535), default=0,
                        help="port to bind on 127.0.0.1 (default 0: any free port)")
    parser.add_argument("--dynamics", type=input_file,
                        help="contacts CSV (default: the sample tenant)")
    parser.add_argument("--strivacity", type=input_file,
                        help="accounts NDJSON (default: the sample tenant)")
    parser.add_argument("--faults", default="",
                        help="e.g. throttle_every=50,retry_after=1,error_rate=0.02,latency=0.2,"
                             "token_lifetime=60; rate_limits=1 models the services' documented "
                             "limits; lose_answers=1,lose_path=bulk,lose_how=500 loses an "
                             "accepted write's answer (README: The emulator)")
    parser.add_argument("--env", action="store_true",
                        help="print `export NAME=value` lines for every variable recon reads "
                             "(for eval) instead of the JSON line")
    parser.add_argument("--background", action="store_true",
                        help="serve from a process of its own and return once it is ready; "
                             "the output adds its pid (RECON_EMULATOR_PID with --env)")
    return parser


def env_lines(env: Mapping[str, str]) -> list[str]:
    """Shell lines that set ``env`` and unset what the emulator does not use, for ``eval``."""
    return [*(f"export {name}={shlex.quote(value)}" for name, value in env.items()),
            f"unset {' '.join(UNSET)}"]


def emulator_env(emulator: Emulator) -> dict[str, str]:
    """Every variable recon reads, pointing at ``emulator`` (certificate sign-in included)."""
    return {**emulator.env(), "AZURE_CLIENT_CERTIFICATE_PATH": emulator.info["client_certificate"]}


def ready_text(emulator: Emulator, as_env: bool) -> str:
    if as_env:
        return "\n".join([*env_lines(emulator_env(emulator)), f"{READY} (pid {os.getpid()})"])
    return json.dumps(emulator.info)


def serve_forever(argv: list[str]) -> int:
    """Run the emulator (in the foreground, or --background); 0 on SIGINT/SIGTERM, 2 bad input."""
    try:
        args = build_parser().parse_args(argv)
        if args.background:
            return start_background(_foreground_argv(args), args.env)
        faults = parse_faults(args.faults) if args.faults else Faults()
        emulator = Emulator(args.dynamics, args.strivacity, faults, args.port)
    except ReconError as error:
        return report_error(error)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with emulator:
            print(ready_text(emulator, args.env), flush=True)
            while not stop.wait(0.5):
                pass
    except OSError as exc:  # binding --port failed
        return report_error(_port_error(exc, args.port))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def _port_error(exc: OSError, port: int) -> ConfigError:
    """A port in use or not allowed as one sentence; any other OSError is raised as it is."""
    if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
        raise exc
    why = "is in use by another program" if exc.errno == errno.EADDRINUSE else \
        "needs privileges this user lacks"
    return ConfigError(f"port {port} on 127.0.0.1 {why}; pick another with --port N, or "
                       "--port 0 for any free port (the ready line says which).")


def _foreground_argv(args: argparse.Namespace) -> list[str]:
    """The same options without --background, rebuilt from what was parsed (abbreviations too)."""
    argv = ["--port", str(args.port), "--faults", args.faults]
    for flag, value in (("--dynamics", args.dynamics), ("--strivacity", args.strivacity)):
        argv += [flag, str(value)] if value else []
    return argv + (["--env"] if args.env else [])


def start_background(argv: list[str], as_env: bool) -> int:
    """Start ``recon emulator argv`` detached, relay what it prints when ready, add its pid."""
    with tempfile.TemporaryFile(prefix="recon-emulator-") as errors:
        child = subprocess.Popen([sys.executable, "-m", "recon", "emulator", *argv],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=errors, start_new_session=True)
        assert child.stdout is not None
        lines = _ready_lines(child.stdout, as_env)
        if lines is None:
            return _failed_start(child, errors)
    child.stdout.close()  # it prints nothing more; the caller's $(...) can end
    if as_env:
        print("\n".join([*lines[:-1], f"export RECON_EMULATOR_PID={child.pid}",
                         f"{READY} (pid {child.pid}); stop it with: kill {child.pid}"]))
    else:
        print(json.dumps({**json.loads(lines[0]), "pid": child.pid}))
    return EXIT_OK


def _ready_lines(stream: IO[bytes], as_env: bool) -> list[str] | None:
    """The ready output, waited for at most START_TIMEOUT; None if the child exits or stalls."""
    deadline, buffer = time.monotonic() + START_TIMEOUT, b""
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([stream], [], [], left)[0]:
            return None
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            return None  # the child exited before it was ready
        buffer += chunk
        lines = buffer.decode("utf-8").splitlines()
        if buffer.endswith(b"\n") and (not as_env or lines[-1].startswith(READY)):
            return lines
    return None


def _failed_start(child: subprocess.Popen[bytes], errors: IO[bytes]) -> int:
    """Stop a child that did not get ready; its own message and exit code become ours."""
    try:
        code = child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise JobFailed(f"the emulator did not get ready in {START_TIMEOUT:.0f} s; it was "
                        "stopped. Try again, or run it in the foreground to see why.") from None
    errors.seek(0)
    sys.stderr.write(errors.read().decode("utf-8", "replace"))
    if code == EXIT_OK:
        raise ConfigError("the emulator exited before it was ready.")
    return code
