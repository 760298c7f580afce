"""The Strivacity Admin API in the emulator, through requests over TLS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from recon.emulator import Emulator

ACCOUNTS = [
    {"id": f"acc-{n:02d}", "store": "default", "enabled": True, "language": "en-US",
     "createdAt": f"2024-01-{n:02d}T00:00:00.000Z", "updatedAt": f"2024-02-{n:02d}T00:00:00.000Z",
     "identities": {"email": {"id": f"user{n}@example.com", "verified": True}},
     "accountInfo": {"name": {"givenName": f"Given{n}", "familyName": "Roe"}}}
    for n in range(1, 26)
]
STORE = "/admin/api/v1/identityStores/default/accounts"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(dynamics=[], strivacity=ACCOUNTS) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        yield emulator


def session(emu: Emulator) -> requests.Session:
    info = emu.info
    token = requests.post(f"{info['strivacity_url']}/oauth2/token",
                          auth=(info["strivacity_client_id"], info["strivacity_client_secret"]),
                          data={"grant_type": "client_credentials", "scope": "read:account"})
    assert token.status_code == 200 and token.json()["token_type"] == "bearer"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return http


def test_token_needs_the_right_client(emu: Emulator) -> None:
    info = emu.info
    wrong = requests.post(f"{info['strivacity_url']}/oauth2/token", auth=("x", "y"),
                          data={"grant_type": "client_credentials"})
    assert wrong.status_code == 401
    assert requests.get(info["strivacity_url"] + STORE).status_code == 401
    assert session(emu).get(info["strivacity_url"] + STORE).status_code == 200


def test_pages_are_zero_based_bare_arrays_covering_every_account(emu: Emulator) -> None:
    http, seen, page = session(emu), [], 0
    while True:
        batch = http.get(emu.info["strivacity_url"] + STORE, params={"page": page, "size": 10})
        assert isinstance(batch.json(), list)
        if not batch.json():
            break
        seen += [a["id"] for a in batch.json()]
        page += 1
    assert seen == [a["id"] for a in ACCOUNTS] and page == 3
    newest = http.get(emu.info["strivacity_url"] + STORE,
                      params={"sort": "updatedAt,desc", "size": 2,
                              "updatedAtStartDate": "2024-02-20T00:00:00Z"}).json()
    assert [a["id"] for a in newest] == ["acc-25", "acc-24"]


def test_create_and_conflict(emu: Emulator) -> None:
    http = session(emu)
    body = {"language": "en-US", "email": {"id": "new@example.com", "verified": False},
            "local": {"metadata": {"name": {"givenName": "New"}}}}
    created = http.post(emu.info["strivacity_url"] + STORE, json=body)
    assert created.status_code == 201
    account = created.json()
    assert account["identities"]["email"]["id"] == "new@example.com"
    assert emu.accounts.get(account["id"])["accountInfo"]["name"]["givenName"] == "New"
    again = http.post(emu.info["strivacity_url"] + STORE,
                      json={**body, "email": {"id": "USER3@example.com"}})
    assert again.status_code == 409
    assert again.headers["Content-Type"] == "application/problem+json"
    assert again.json()["status"] == 409


def wait_for_job(http: requests.Session, base: str, job: str) -> dict[str, Any]:
    """Poll the job until it completes (the emulator applies it on a timer thread)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = http.get(f"{base}/admin/api/v1/bulk/{job}").json()
        if status["status"] == "COMPLETED":
            return status
    raise AssertionError(f"bulk job {job} did not complete")


def test_bulk_job_lifecycle_and_errors(emu: Emulator) -> None:
    http, base = session(emu), emu.info["strivacity_url"]
    emu.strivacity.bulk.delay = 0.3
    lines = [
        {"operation": "updatePersonalData", "identityStore": "default", "accountId": "acc-01",
         "value": {"name": {"givenName": "Bulk"}}},
        {"operation": "disableAccount", "identityStore": "default", "accountId": "acc-02"},
        {"operation": "enableAccount", "identityStore": "default", "accountId": "missing"},
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    job = http.post(f"{base}/admin/api/v1/bulk", data=body,
                    headers={"Content-Type": "application/x-ndjson"}).json()["id"]
    assert http.head(f"{base}/admin/api/v1/bulk").status_code == 429
    busy = http.post(f"{base}/admin/api/v1/bulk", data=body)
    assert busy.status_code == 429 and "running already" in busy.json()["detail"]
    status = wait_for_job(http, base, job)
    assert status["result"] == {"total": 4, "success": 2, "failure": 2}
    assert status["endDate"] is not None
    errors = http.get(f"{base}/admin/api/v1/bulk/{job}/errors").json()
    assert [e["line"] for e in errors] == [3, 4] and errors[0]["error"]["status"] == 404
    assert emu.accounts.get("acc-01")["accountInfo"]["name"] == {"givenName": "Bulk",
                                                                 "familyName": "Roe"}
    assert emu.accounts.get("acc-02")["enabled"] is False
    assert http.head(f"{base}/admin/api/v1/bulk").status_code == 200


def test_throttling_uses_problem_json_with_retry_after(emu: Emulator) -> None:
    http = session(emu)
    emu.faults.throttle_every = 2
    answers = [http.get(emu.info["strivacity_url"] + STORE) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 429, 200, 429]
    assert answers[1].headers["Retry-After"] == "1"
    assert answers[1].json()["status"] == 429
