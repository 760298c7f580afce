"""``recon emulator`` as a process: one JSON ready line, then serving until SIGTERM."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from recon.emulator import Emulator
from recon.emulator.cli import READY, emulator_env, env_lines
from recon.settings import VARIABLES

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


# ---------------------------------------------------------------- --env and --background

RECON = [sys.executable, "-m", "recon"]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment without any recon setting, as a fresh shell would have."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env["RECON_PROGRESS"] = "0"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)
    return env


@pytest.mark.parametrize("value", ["plain", "two words", "it's", 'say "hi"', "$HOME", "`id`",
                                   "a;b|c&d", "tab\there", "line\nbreak", "ünïcödé", ""])
def test_env_lines_survive_eval_in_bash_exactly(value: str) -> None:
    script = "\n".join(env_lines({"RECON_TEST_VALUE": value})) + '\nprintf %s "$RECON_TEST_VALUE"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ["PATH"], "RECON_TEST_VALUE": "stale"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == value


def test_env_sets_or_unsets_every_variable_recon_reads() -> None:
    with Emulator([], []) as emu:
        lines = env_lines(emulator_env(emu))
    exported = {line.split()[1].split("=", 1)[0] for line in lines if line.startswith("export ")}
    unset = {name for line in lines if line.startswith("unset ") for name in line.split()[1:]}
    assert exported | unset == set(VARIABLES) and not exported & unset
    assert all(line.startswith(("export ", "unset ")) for line in lines)


def test_background_env_is_ready_for_eval_and_recon_check_passes(tmp_path: Path) -> None:
    script = ('eval "$(recon emulator --env --background)" || exit 9\n'
              'echo "bundle=$REQUESTS_CA_BUNDLE"\n'
              'recon check; code=$?\n'
              'kill "$RECON_EMULATOR_PID"\n'
              'tail --pid="$RECON_EMULATOR_PID" -f /dev/null\n'  # returns once it has exited
              'exit $code\n')
    (tmp_path / "recon").write_text(f'#!/bin/sh\nexec {sys.executable} -m recon "$@"\n')
    (tmp_path / "recon").chmod(0o700)
    env = _clean_env(tmp_path)
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("all checks passed")
    assert done.stdout.count("\nok ") + done.stdout.startswith("ok ") == 9
    bundle = Path(done.stdout.split("bundle=", 1)[1].splitlines()[0])
    assert bundle.name == "ca.pem" and not bundle.exists()  # stopped, and cleaned up after itself


def test_foreground_env_lines_point_a_pull_at_the_emulator(tmp_path: Path) -> None:
    process = subprocess.Popen([*RECON, "emulator", "--env"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_clean_env(tmp_path))
    try:
        assert process.stdout is not None
        lines = []
        for _ in range(50):  # bounded: the ready line comes after a dozen
            lines.append(process.stdout.readline())
            if lines[-1].startswith(READY) or not lines[-1]:
                break
        assert lines[-1].startswith(f"{READY} (pid {process.pid})")
        out = tmp_path / "accounts.ndjson"
        pull = shlex.join([*RECON, "pull", "strivacity", "--out", str(out)])
        script = "".join(lines) + pull + "\n"
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              timeout=120, env=_clean_env(tmp_path))
        assert done.returncode == 0, done.stderr
        assert "2000 accounts written" in done.stdout
        assert len(out.read_text(encoding="utf-8").splitlines()) == 2000
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def test_background_bad_faults_exit_2_with_the_childs_message(tmp_path: Path) -> None:
    done = subprocess.run([*RECON, "emulator", "--background", "--env", "--faults", "bogus=1"],
                          capture_output=True, text=True, timeout=60, env=_clean_env(tmp_path))
    assert done.returncode == 2
    assert done.stdout == "" and "throttle_every" in done.stderr and "Traceback" not in done.stderr


def test_background_json_adds_the_pid_and_abbreviated_flags_do_not_respawn(
        tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(f"contactid,emailaddress1,statecode\n{uuid.UUID(int=1)},a@x.com,0\n")
    done = subprocess.run([*RECON, "emulator", "--backg", "--dyn", str(contacts)],
                          capture_output=True, text=True, timeout=60, env=_clean_env(tmp_path))
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)  # one JSON line, as in the foreground, plus the pid
    try:
        assert isinstance(info["pid"], int) and info["pid"] != os.getpid()
        rows = requests.get(info["dataverse_url"] + "/api/data/v9.2/contacts?$select=contactid",
                            verify=info["ca_bundle"])
        assert rows.status_code == 401  # serving (the token is the clients' business)
    finally:
        os.kill(info["pid"], signal.SIGTERM)
    waited = subprocess.run(["tail", f"--pid={info['pid']}", "-f", "/dev/null"], timeout=30)
    assert waited.returncode == 0 and not Path(info["ca_bundle"]).exists()
