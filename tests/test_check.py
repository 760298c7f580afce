"""`recon check` end to end: real msal and requests over TLS against the emulator on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
from children import recon_argv

from recon.check import judge_privileges
from recon.cli import main
from recon.emulator import Emulator
from recon.errors import AuthError
from recon.settings import VARIABLES

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
DATAVERSE_SECRET = "dv-secret-5e1b0c"
STRIVACITY_SECRET = "sv-secret-77d2aa"


@pytest.fixture()
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with Emulator(SAMPLE / "dynamics_contacts.csv", SAMPLE / "strivacity_accounts.ndjson",
                  client_secret=DATAVERSE_SECRET,
                  strivacity_client_secret=STRIVACITY_SECRET) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        yield emu


def _check(capsys: pytest.CaptureFixture[str], *systems: str) -> tuple[int, list[str], str]:
    code = main(["check", *systems])
    out, err = capsys.readouterr()
    for secret in (DATAVERSE_SECRET, STRIVACITY_SECRET, "wrong-secret-0000"):
        assert secret not in out + err
    return code, out.splitlines(), err


def _statuses(lines: list[str]) -> list[tuple[str, str, str]]:
    """(status, system, what) of each check line."""
    rows = []
    for line in lines:
        if line.split(maxsplit=1)[0] in ("ok", "FAIL", "warn", "skip"):
            status, system, rest = line.split(maxsplit=2)
            rows.append((status, system, rest.split(":", 1)[0]))
    return rows


def test_all_checks_pass_against_the_emulator(emulator: Emulator,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = _check(capsys)
    assert code == 0 and err == ""
    assert _statuses(lines) == [
        ("ok", "dynamics", "settings"), ("ok", "dynamics", "token"),
        ("ok", "dynamics", "WhoAmI"), ("ok", "dynamics", "read contacts"),
        ("ok", "dynamics", "privileges"), ("ok", "strivacity", "settings"),
        ("ok", "strivacity", "token"), ("ok", "strivacity", "read accounts"),
        ("ok", "strivacity", "apply scopes")]
    assert lines[-1] == "all checks passed"
    assert "(hidden)" in lines[0]
    log = emulator.requests  # each check really asked the service, once, and nothing wrote
    assert log.count("GET", "/api/data/v9.2/WhoAmI", 200) == 1
    assert log.count("GET", "/api/data/v9.2/contacts", 200) == 1
    assert log.count("GET", "/api/data/v9.2/systemusers(", 200) == 1
    assert log.count("GET", "/admin/api/v1/identityStores/default/accounts", 200) == 1
    assert log.count("PATCH") == log.count("DELETE") == 0
    assert log.count("POST", "/admin/api/v1") == log.count("POST", "/api/data") == 0


def test_a_read_only_role_fails_the_privileges_with_the_fix(
        emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emulator.dataverse.privileges = {"prvReadContact": "Global"}
    code, lines, err = _check(capsys, "dynamics")
    assert code == 4
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1 and "privileges" in failed[0]
    assert "prvCreateContact" in failed[0] and "prvWriteContact" in failed[0]
    assert "prvReadContact" not in failed[0].split("lacks", 1)[1]
    assert "security role" in failed[0]
    assert "1 check failed (dynamics privileges)" in err


def test_user_level_privileges_pass_with_a_warning(emulator: Emulator,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    emulator.dataverse.privileges = {"prvReadContact": "Global", "prvCreateContact": "Local",
                                     "prvWriteContact": "Basic"}
    code, lines, _ = _check(capsys, "dynamics")
    assert code == 0
    warned = [line for line in lines if line.startswith("warn")]
    assert len(warned) == 1 and "prvWriteContact only at user level" in warned[0]


def test_judge_privileges_names_each_missing_one() -> None:
    with pytest.raises(AuthError, match="lacks prvReadContact .*prvWriteContact"):
        judge_privileges({"prvCreateContact": "Global"})
    assert judge_privileges({"prvReadContact": "Deep", "prvCreateContact": "Global",
                             "prvWriteContact": "Local"}).count("(") == 3


@pytest.mark.parametrize("variable", ["AZURE_CLIENT_SECRET", "STRIVACITY_CLIENT_SECRET"])
def test_a_wrong_secret_fails_the_token_skips_the_rest_and_is_never_printed(
        variable: str, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, "wrong-secret-0000")
    system = "dynamics" if variable.startswith("AZURE") else "strivacity"
    code, lines, _ = _check(capsys, system)
    assert code == 4
    statuses = _statuses(lines)
    assert statuses[0] == ("ok", system, "settings")
    assert statuses[1] == ("FAIL", system, "token")
    assert {s for s, _, _ in statuses[2:]} == {"skip"}


def test_an_unknown_store_fails_the_read(emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRIVACITY_STORE", "elsewhere")
    code, lines, _ = _check(capsys, "strivacity")
    assert code == 4
    failed = next(line for line in lines if line.startswith("FAIL"))
    assert "read accounts" in failed and "404" in failed and "STRIVACITY_STORE" in failed


def test_an_untrusted_certificate_names_requests_ca_bundle(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # real CAs, not the emulator's
    code, lines, _ = _check(capsys)
    assert code == 4
    failed = [line for line in lines if line.startswith("FAIL")]
    assert [line.split()[1] for line in failed] == ["dynamics", "strivacity"]
    assert all("REQUESTS_CA_BUNDLE" in line for line in failed)


def test_missing_settings_are_all_named_and_nothing_is_tried(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    code, lines, err = _check(capsys)
    assert code == 2
    failed = [line for line in lines if line.startswith("FAIL")]
    for name in ("DATAVERSE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                 "STRIVACITY_URL", "STRIVACITY_CLIENT_ID", "STRIVACITY_CLIENT_SECRET"):
        assert sum(name in line for line in failed) == 1, name
    assert [s for s in _statuses(lines) if s[0] == "skip"] == [
        ("skip", "dynamics", "connection"), ("skip", "strivacity", "connection")]
    assert "recon emulator --env" in err


def test_settings_failures_win_over_a_service_refusal(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong-secret-0000")  # a refusal: 4
    monkeypatch.delenv("STRIVACITY_URL")                             # a setting: 2
    code, lines, _ = _check(capsys)
    assert code == 2
    assert ("FAIL", "dynamics", "token") in _statuses(lines)


def test_an_unknown_system_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "crm"]) == 2
    assert "'crm' is not a system recon checks; valid: dynamics, strivacity" in \
        capsys.readouterr().err


def test_ctrl_c_during_a_check_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """A server that accepts and never answers holds the check in its sign-in: then SIGINT."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
        env.update(DATAVERSE_URL=url, AZURE_AUTHORITY_HOST=url, AZURE_TENANT_ID="t",
                   AZURE_CLIENT_ID="c", AZURE_CLIENT_SECRET="s")
        child = subprocess.Popen(recon_argv("check", "dynamics"), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None
        try:
            first = child.stdout.readline()  # the settings line: the sign-in comes next
            assert first.startswith("ok    dynamics    settings")
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=60)
        finally:  # a child that outlives a failure must not leak into the next test
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 130, err
    assert err.strip() == "recon: interrupted" and "Traceback" not in err


def test_certificate_sign_in_is_checked_too(emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", emulator.info["client_certificate"])
    code, lines, _ = _check(capsys, "dynamics")
    assert code == 0
    assert f"certificate {emulator.info['client_certificate']}" in lines[0]
    assert [s for s, _, _ in _statuses(lines)] == ["ok"] * 5
    key = Path(emulator.info["client_certificate"]).read_text()
    assert "PRIVATE KEY" in key and key.splitlines()[1] not in "\n".join(lines)
