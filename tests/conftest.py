"""Fixtures shared by the end-to-end tests of the connectors."""

from __future__ import annotations

import pytest

from recon.retry import RetryPolicy


@pytest.fixture
def waits() -> list[float]:
    """The waits a retry policy asked for, in order."""
    return []


@pytest.fixture
def retry(waits: list[float]) -> RetryPolicy:
    """Zero backoff; server-requested waits are recorded, not slept."""
    return RetryPolicy(backoff_base=0.0, sleep=waits.append)
