"""``recon emulator`` as a process: one JSON ready line, then serving until SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import requests

SCRIPT = ("import sys; from recon.emulator.cli import serve_forever; "
          "sys.exit(serve_forever(sys.argv[1:]))")


def test_cli_prints_one_ready_line_serves_and_stops_on_sigterm(tmp_path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(f"contactid,emailaddress1,statecode\n{uuid.UUID(int=1)},a@x.com,0\n")
    accounts = tmp_path / "accounts.ndjson"
    accounts.write_text('{"id": "s1", "enabled": true}\n')
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "--dynamics", str(contacts), "--strivacity", str(accounts),
         "--faults", "throttle_every=1000,token_lifetime=120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())  # blocks until the emulator is ready
        assert {"dataverse_url", "authority_host", "tenant_id", "client_id", "client_secret",
                "strivacity_url", "strivacity_client_id", "strivacity_client_secret",
                "ca_bundle"} <= info.keys()
        token = requests.post(f"{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token",
                              verify=info["ca_bundle"],
                              data={"grant_type": "client_credentials",
                                    "client_id": info["client_id"],
                                    "client_secret": info["client_secret"],
                                    "scope": info["dataverse_url"] + "/.default"}).json()
        assert token["expires_in"] == 120
        rows = requests.get(info["dataverse_url"] + "/api/data/v9.2/contacts",
                            verify=info["ca_bundle"],
                            headers={"Authorization": f"Bearer {token['access_token']}"})
        assert [r["emailaddress1"] for r in rows.json()["value"]] == ["a@x.com"]
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out == ""  # exactly one line was printed, and it was read above


def test_cli_bad_faults_spec_exits_2_with_the_fix() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, "--faults", "bogus=1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "throttle_every" in done.stderr and done.stdout == ""
