"""Fault knobs: throttling, server errors, latency and token lifetime, changeable at run time.

``Faults`` is the plain, mutable setting (``emu.faults.throttle_every = 5``); ``FaultDice`` decides,
request by request, which fault (if any) a service call gets. Token and discovery endpoints are
never throttled or failed, only delayed: clients are expected to retry API calls, not their IdP.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field, fields

from recon.errors import ConfigError


@dataclass
class Faults:
    """What goes wrong, and how often. Zero means "never"."""

    throttle_every: int = 0  # every Nth API request answers 429 with Retry-After
    retry_after: float = 1.0  # seconds put in Retry-After (rounded up to whole seconds)
    error_rate: float = 0.0  # share of API requests answering 503 or 500
    latency: float = 0.0  # seconds slept before every answer (models the network)
    token_lifetime: int = 3600  # seconds an issued access token stays valid
    seed: int = 0  # seeds the error-rate dice so a run is repeatable
    # rate_limits=1 models the documented limits (recon.emulator.limits), with these numbers:
    rate_limits: int = 0
    ip_per_second: int = 10  # Strivacity /admin/api/v1, per source IP
    ip_per_minute: int = 100
    instance_per_second: int = 50  # Strivacity /admin/api/v1, per instance
    instance_per_minute: int = 500
    dataverse_requests: int = 6000  # Dataverse, per user in dataverse_window seconds
    dataverse_window: float = 300.0
    dataverse_concurrent: int = 52
    # lose the answer to the next lose_answers accepted POSTs to a path ending in /lose_path
    # ("bulk" or "accounts"): after the write is done, answer 500, drop the connection
    # ("drop"), or hold the answer until Emulator.release_held() and then drop ("hold");
    # "refuse" answers 503 before anything is done (the write was not accepted)
    lose_answers: int = 0
    lose_path: str = "bulk"
    lose_how: str = "500"
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)


def parse_faults(spec: str) -> Faults:
    """Read ``"throttle_every=50,retry_after=1,error_rate=0.02"`` into a ``Faults``."""
    faults = Faults()
    known = {f.name: f for f in fields(Faults) if not f.name.startswith("_")}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise ConfigError(f"--faults: {item!r} is not NAME=VALUE with NAME one of "
                              f"{', '.join(sorted(known))}. Fix the spec, e.g. "
                              "'throttle_every=50'.")
        kinds = {"int": int, "float": float, "str": str}
        kind = kinds.get(str(getattr(known[name].type, "__name__", known[name].type)), float)
        try:
            setattr(faults, name, kind(value.strip()))
        except ValueError:
            raise ConfigError(f"--faults: {name}={value!r} is not a {kind.__name__}. "
                              f"Give a number, e.g. {name}=1.") from None
    faults.__post_init__()
    return faults


@dataclass(frozen=True)
class Fault:
    """A fault to answer with instead of the real response."""

    status: int  # 429, 500 or 503
    retry_after: int | None  # seconds, for 429


class FaultDice:
    """Counts API requests and rolls the dice, under a lock so concurrent pulls see exact counts."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._count = 0
        self._lock = threading.Lock()

    def roll(self) -> Fault | None:
        """Decide the fault for the next API request: throttling first, then server errors."""
        faults = self.faults
        with self._lock:
            self._count += 1
            if faults.throttle_every > 0 and self._count % faults.throttle_every == 0:
                return Fault(429, max(1, math.ceil(faults.retry_after)))
            if faults.error_rate > 0 and faults._rng.random() < faults.error_rate:
                return Fault(503 if faults._rng.random() < 0.75 else 500, None)
        return None
