"""Fixtures shared by the end-to-end tests of the connectors and of apply.

``seed``, ``emu`` and ``run`` are the apply tests' 300-contact tenant, the emulator serving it and
a fresh copy of its run folder; a module that defines fixtures of those names uses its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from recon.api import reconcile_files
from recon.apply import record_source
from recon.emulator import Emulator
from recon.retry import RetryPolicy
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate


@pytest.fixture
def waits() -> list[float]:
    """The waits a retry policy asked for, in order."""
    return []


@pytest.fixture
def retry(waits: list[float]) -> RetryPolicy:
    """Zero backoff; server-requested waits are recorded, not slept."""
    return RetryPolicy(backoff_base=0.0, sleep=waits.append)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 300-contact sample tenant and its reconciled run folder (read-only; tests copy it)."""
    base = tmp_path_factory.mktemp("apply-seed")
    sample = generate(base / "sample", contacts=300, seed=11)
    reconcile_files(sample / CONTACTS_FILE, sample / ACCOUNTS_FILE, base / "run")
    return sample, base / "run"


@pytest.fixture
def emu(seed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    sample, _ = seed
    with Emulator(dynamics=sample / CONTACTS_FILE, strivacity=sample / ACCOUNTS_FILE) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        yield emulator


@pytest.fixture
def run(seed: tuple[Path, Path], emu: Emulator, tmp_path: Path) -> Path:
    """A fresh copy of the run folder, recording the emulator as its source."""
    folder = Path(shutil.copytree(seed[1], tmp_path / "run"))
    record_source(folder, dataverse_url=emu.info["dataverse_url"],
                  strivacity_url=emu.info["strivacity_url"])
    return folder
