"""Pulled files end to end against the emulator: provenance through reconcile into apply's
guards, and failed pulls (server errors mid-way, a bad secret, TLS, SIGKILL) that leave the
previous file exactly as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recon.cli import main
from recon.dynamics.pull import pull_dynamics_raw
from recon.dynamics.raw_files import write_raw
from recon.emulator import Emulator
from recon.errors import HttpError
from recon.provenance import Pulled
from recon.retry import NO_WAIT
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate
from recon.strivacity.pull import pull_strivacity

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "sample"
ACCOUNTS_PATH = "/admin/api/v1/identityStores/"
CLI = "import sys; from recon.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("pull-seed") / "sample", contacts=300, seed=5)


@pytest.fixture
def emu(sample: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(dynamics=sample / CONTACTS_FILE, strivacity=sample / ACCOUNTS_FILE) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RECON_PROGRESS", "0")
        yield running


def pull_both(tmp_path: Path, suffix: str = ".parquet") -> tuple[Path, Path]:
    dynamics, strivacity = tmp_path / f"contacts{suffix}", tmp_path / "accounts.ndjson"
    assert main(["pull", "dynamics", "--out", str(dynamics)]) == 0
    assert main(["pull", "strivacity", "--out", str(strivacity)]) == 0
    return dynamics, strivacity


def sends(emu: Emulator) -> int:
    """Writes sent to either API (token requests are POSTs too, and do not count)."""
    return sum(1 for e in emu.requests if e.method in ("POST", "PATCH", "PUT", "DELETE")
               and "token" not in e.path)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_pull_reconcile_apply_needs_no_force_for_the_same_tenant(
        emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    dynamics, strivacity = pull_both(tmp_path, suffix)
    run = tmp_path / "run"
    assert main(["reconcile", "--dynamics", str(dynamics), "--strivacity", str(strivacity),
                 "--out", str(run)]) == 0
    source = json.loads((run / "source.json").read_text())
    assert source["dynamics"]["url"] == emu.info["dataverse_url"].rstrip("/")
    assert source["strivacity"]["url"] == emu.info["strivacity_url"].rstrip("/")
    assert source["strivacity"]["store"] == os.environ["STRIVACITY_STORE"]
    capsys.readouterr()
    for target in ("dynamics", "strivacity"):
        assert main(["apply", str(run), "--to", target]) == 0
        said = capsys.readouterr().out
        assert "pulled from" in said and "would refuse" not in said
    assert main(["apply", str(run), "--to", "dynamics", "--execute"]) == 0
    assert sends(emu) > 0  # accepted without --force, and sent


@pytest.mark.parametrize(("target", "variable"), [("dynamics", "DATAVERSE_URL"),
                                                  ("strivacity", "STRIVACITY_URL")])
def test_pull_reconcile_apply_is_refused_for_another_tenant(
        emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, target: str, variable: str) -> None:
    dynamics, strivacity = pull_both(tmp_path)
    run = tmp_path / "run"
    assert main(["reconcile", "--dynamics", str(dynamics), "--strivacity", str(strivacity),
                 "--out", str(run)]) == 0
    monkeypatch.setenv(variable, "https://other.example.com")
    capsys.readouterr()
    assert main(["apply", str(run), "--to", target]) == 0  # a dry run only reports it
    assert "would refuse" in capsys.readouterr().out
    assert main(["apply", str(run), "--to", target, "--execute"]) == 2
    assert "https://other.example.com" in capsys.readouterr().err
    assert sends(emu) == 0


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


class FailAfter:
    """A progress sink that makes every later API request fail once ``pages`` have arrived."""

    def __init__(self, emu: Emulator, pages: int) -> None:
        self.emu, self.left, self.rows = emu, pages, 0

    def update(self, rows: int, pages: int = 1) -> None:
        self.left -= pages
        self.rows += rows
        if self.left <= 0:
            self.emu.faults.error_rate = 1.0  # 503/500 from here on; retries give up

    def close(self) -> None:
        pass


def test_strivacity_pull_failing_mid_way_leaves_the_previous_file(emu: Emulator,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "accounts.ndjson"
    pull_strivacity(out=out, page_size=20, retry=NO_WAIT)
    before = snapshot(tmp_path)
    fail = FailAfter(emu, 3)
    with pytest.raises(HttpError):
        pull_strivacity(out=out, page_size=20, retry=NO_WAIT, progress=fail)
    assert fail.rows == 60 and emu.requests.count(status=503) > 0  # failed after 3 pages
    assert snapshot(tmp_path) == before  # byte for byte, and no partial file beside it


def test_dynamics_pull_failing_mid_way_leaves_the_previous_file(emu: Emulator,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "contacts.csv"
    pull_dynamics_raw(out=out, page_size=25, retry=NO_WAIT)
    before = snapshot(tmp_path)
    assert set(before) == {"contacts.csv", "contacts.csv.source.json"}
    fail = FailAfter(emu, 2)
    with pytest.raises(HttpError):
        pull_dynamics_raw(out=out, page_size=25, retry=NO_WAIT, progress=fail)
    assert fail.rows == 50 and emu.requests.count(status=503) > 0
    assert snapshot(tmp_path) == before


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("the disk filled up")


def test_a_dynamics_write_that_fails_leaves_the_previous_file(emu: Emulator,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "contacts.csv"
    raw = pull_dynamics_raw(out=out, retry=NO_WAIT)
    before = snapshot(tmp_path)
    broken = raw.astype(object)
    broken.iloc[len(raw) // 2, 1] = Unprintable()
    with pytest.raises(RuntimeError, match="disk filled"):
        write_raw(broken, out, Pulled("dynamics", emu.info["dataverse_url"], datetime.now(UTC)))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("side", "variable", "value", "code"), [
    ("strivacity", "STRIVACITY_CLIENT_SECRET", "not-the-secret", 4),
    ("dynamics", "AZURE_CLIENT_SECRET", "not-the-secret", 4),
    ("strivacity", "REQUESTS_CA_BUNDLE", "", 4),  # the system store: the emulator's CA unknown
])
def test_a_pull_refused_at_the_start_leaves_the_previous_file(
        emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, side: str,
        variable: str, value: str, code: int) -> None:
    out = tmp_path / ("accounts.ndjson" if side == "strivacity" else "contacts.parquet")
    assert main(["pull", side, "--out", str(out)]) == 0
    before = snapshot(tmp_path)
    if value:
        monkeypatch.setenv(variable, value)
    else:
        monkeypatch.delenv(variable)
    assert main(["pull", side, "--out", str(out)]) == code
    assert snapshot(tmp_path) == before


def test_a_killed_pull_leaves_the_previous_file_and_nothing_that_looks_complete(
        tmp_path: Path) -> None:
    out = tmp_path / "accounts.ndjson"
    with Emulator(dynamics=[], strivacity=BUNDLED / ACCOUNTS_FILE) as emu:  # 10 pages of 200
        env = {**os.environ, **emu.env(), "RECON_PROGRESS": "0"}
        assert subprocess.run([sys.executable, "-c", CLI, "pull", "strivacity", "--out",
                               str(out)], env=env, capture_output=True).returncode == 0
        before = snapshot(tmp_path)
        assert emu.accounts.delete(emu.accounts.all()[0]["id"])  # a finished pull would differ
        emu.requests.clear()
        emu.faults.latency = 0.05  # keeps the pull in flight long enough to be killed mid-way
        proc = subprocess.Popen([sys.executable, "-c", CLI, "pull", "strivacity", "--out",
                                 str(out)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        while proc.poll() is None:
            if emu.requests.count(method="GET", path=ACCOUNTS_PATH, status=200) >= 3:
                proc.send_signal(signal.SIGKILL)  # three pages in, seven to come
                break
            try:
                proc.wait(timeout=0.005)  # the poll tick: wakes early if the process ends
            except subprocess.TimeoutExpired:
                pass
        _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err
    after = snapshot(tmp_path)
    assert {k: after[k] for k in before} == before  # the good file and its sidecar, as they were
    left = set(after) - set(before)  # only a hidden partial file, which nothing reads
    assert len(left) == 1 and all(name.startswith(".accounts.ndjson.")
                                  and name.endswith(".partial") for name in left)


def test_an_empty_store_pulls_to_an_empty_file_that_reconcile_refuses_unless_allowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "accounts.ndjson"
    with Emulator(dynamics=[], strivacity=[]) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        assert len(pull_strivacity(out=out, retry=NO_WAIT)) == 0
    assert out.read_bytes() == b"" and (tmp_path / "accounts.ndjson.source.json").is_file()
    args = ["reconcile", "--dynamics", str(BUNDLED / CONTACTS_FILE), "--strivacity", str(out),
            "--out", str(tmp_path / "run")]
    assert main(args) == 2
    assert main([*args, "--allow-empty"]) == 0
    source = json.loads((tmp_path / "run" / "source.json").read_text())
    assert source["strivacity"]["url"] == emu.info["strivacity_url"].rstrip("/")


def test_an_unknown_extension_is_refused_before_pulling(emu: Emulator, tmp_path: Path) -> None:
    emu.requests.clear()
    assert main(["pull", "dynamics", "--out", str(tmp_path / "contacts.txt")]) == 2
    assert len(list(emu.requests)) == 0 and not list(tmp_path.iterdir())
