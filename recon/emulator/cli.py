"""``recon emulator``: serve the emulator until SIGINT/SIGTERM, after one JSON "ready" line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from recon.emulator.emulator import Emulator
from recon.emulator.faults import Faults, parse_faults
from recon.errors import ReconError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recon emulator",
        description="Serve Entra, Dataverse and Strivacity on 127.0.0.1 over HTTPS. Prints one "
                    "JSON line (URLs, tenant, client credentials, ca_bundle) when ready.")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--dynamics", help="contacts CSV (default: the sample tenant)")
    parser.add_argument("--strivacity", help="accounts NDJSON (default: the sample tenant)")
    parser.add_argument("--faults", default="",
                        help="e.g. throttle_every=50,retry_after=1,error_rate=0.02,latency=0.2,"
                             "token_lifetime=60; rate_limits=1 models the services' documented "
                             "limits; lose_answers=1,lose_path=bulk,lose_how=500 loses an "
                             "accepted write's answer (README: The emulator)")
    return parser


def serve_forever(argv: list[str]) -> int:
    """Run the emulator in the foreground; exit 0 on SIGINT/SIGTERM, 2 on bad input."""
    args = build_parser().parse_args(argv)
    try:
        faults = parse_faults(args.faults) if args.faults else Faults()
        emulator = Emulator(args.dynamics, args.strivacity, faults, args.port)
    except ReconError as error:
        print(f"recon emulator: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with emulator:
            print(json.dumps(emulator.info), flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
