"""The one session builder: TLS trust it keeps, bodies read whole unless streamed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recon.emulator import Emulator
from recon.http import build_session


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(dynamics=[], strivacity=[]) as running:
        yield running


def discovery(emu: Emulator) -> str:
    return (f"{emu.info['authority_host']}/{emu.info['tenant_id']}"
            "/v2.0/.well-known/openid-configuration")


def test_a_body_is_read_before_the_call_returns(emu: Emulator) -> None:
    session = build_session(emu.info["ca_bundle"])
    response = session.get(discovery(emu), timeout=10)
    assert response.status_code == 200 and "token_endpoint" in response.json()
    assert session.get(discovery(emu), timeout=10).content == response.content


def test_a_streamed_body_is_left_to_the_caller(emu: Emulator) -> None:
    session = build_session(emu.info["ca_bundle"])
    with session.get(discovery(emu), timeout=10, stream=True) as response:
        first = next(response.iter_content(5))
        assert len(first) == 5 and first + b"".join(response.iter_content(100)) == \
            session.get(discovery(emu), timeout=10).content
