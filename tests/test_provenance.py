"""Provenance of pulled files: Parquet metadata, sidecars bound to their file, source.json."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from recon.api import reconcile_files
from recon.apply.guards import check_age, check_target, record_source
from recon.dynamics.raw_files import write_raw
from recon.errors import ConfigError, InputError
from recon.provenance import KEY, Pulled, read_pulled, sidecar_path, write_sidecar
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
EARLY = datetime(2026, 11, 30, 22, 0, 5, tzinfo=UTC)
LATE = datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC)
DYN = Pulled("dynamics", "https://contoso.crm4.dynamics.com/", LATE)
STV = Pulled("strivacity", "https://brand.strivacity.com", EARLY, store="customers")


def raw_rows() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / CONTACTS_FILE, dtype="string")


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_write_raw_records_the_tenant_and_time(tmp_path: Path, suffix: str) -> None:
    out = write_raw(raw_rows(), tmp_path / f"contacts{suffix}", DYN)
    assert read_pulled(out, "dynamics") == DYN
    assert sidecar_path(out).exists() == (suffix != ".parquet")


def test_parquet_keeps_the_record_in_its_schema_metadata(tmp_path: Path) -> None:
    out = write_raw(raw_rows(), tmp_path / "contacts.parquet", DYN)
    record = json.loads(pq.read_schema(out).metadata[KEY])
    assert record == {"side": "dynamics", "url": "https://contoso.crm4.dynamics.com",
                      "pulled_at": "2026-12-01T01:02:03Z"}


def test_a_sidecar_never_vouches_for_a_file_changed_after_the_pull(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "accounts.ndjson"
    shutil.copyfile(SAMPLE / ACCOUNTS_FILE, out)
    write_sidecar(out, STV)
    assert read_pulled(out, "strivacity") == STV
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:-1]))  # one record fewer: another file now
    with caplog.at_level(logging.WARNING):
        assert read_pulled(out, "strivacity") is None
    assert "changed after the pull" in caplog.text
    out.write_bytes(b"".join(lines[:-2] + [lines[-1], lines[-2]]))  # same size, other bytes
    assert read_pulled(out, "strivacity") is None


def test_a_file_given_as_the_other_side_is_refused(tmp_path: Path) -> None:
    out = write_raw(raw_rows(), tmp_path / "contacts.parquet", DYN)
    with pytest.raises(InputError, match="pass it as --dynamics"):
        read_pulled(out, "strivacity")


@pytest.mark.parametrize("text", ["{", "[]", '{"side": "dynamics"}',
                                  '{"side": "crm", "url": "u", "pulled_at": "2026-01-01T00:00Z"}'])
def test_a_broken_sidecar_is_an_input_error_naming_it(tmp_path: Path, text: str) -> None:
    out = tmp_path / "accounts.ndjson"
    shutil.copyfile(SAMPLE / ACCOUNTS_FILE, out)
    sidecar_path(out).write_text(text)
    with pytest.raises(InputError) as caught:
        read_pulled(out, "strivacity")
    assert caught.value.file == str(sidecar_path(out))


def pulled_pair(tmp_path: Path) -> tuple[Path, Path]:
    dynamics = write_raw(raw_rows(), tmp_path / "contacts.parquet", DYN)
    strivacity = tmp_path / "accounts.ndjson"
    shutil.copyfile(SAMPLE / ACCOUNTS_FILE, strivacity)
    write_sidecar(strivacity, STV)
    return dynamics, strivacity


def test_reconcile_carries_both_sides_into_source_json(tmp_path: Path) -> None:
    dynamics, strivacity = pulled_pair(tmp_path)
    _, run = reconcile_files(dynamics, strivacity, tmp_path / "run")
    source = json.loads((run / "source.json").read_text())
    assert source == {
        "pulled_at": "2026-11-30T22:00:05Z",  # the older of the two
        "dynamics": {"url": "https://contoso.crm4.dynamics.com",
                     "pulled_at": "2026-12-01T01:02:03Z", "file": str(dynamics.resolve())},
        "strivacity": {"url": "https://brand.strivacity.com", "store": "customers",
                       "pulled_at": "2026-11-30T22:00:05Z", "file": str(strivacity.resolve())}}
    assert check_target(run, "dynamics", "https://contoso.crm4.dynamics.com/")
    assert check_target(run, "strivacity", "https://BRAND.strivacity.com")
    with pytest.raises(ConfigError, match="pulled from https://contoso"):
        check_target(run, "dynamics", "https://fabrikam.crm.dynamics.com")
    with pytest.raises(ConfigError, match="older than"):  # its age is the older pull's
        check_age(run, 24, now=datetime(2026, 12, 1, 22, 30, tzinfo=UTC))


def test_a_hand_export_on_one_side_records_only_the_other(tmp_path: Path) -> None:
    dynamics, _ = pulled_pair(tmp_path)
    _, run = reconcile_files(dynamics, SAMPLE / ACCOUNTS_FILE, tmp_path / "run")
    source = json.loads((run / "source.json").read_text())
    assert source["strivacity"] == {"url": None, "store": None, "pulled_at": None,
                                    "file": str((SAMPLE / ACCOUNTS_FILE).resolve())}
    assert source["pulled_at"] == "2026-12-01T01:02:03Z"
    with pytest.raises(ConfigError, match="does not record"):
        check_target(run, "strivacity", "https://brand.strivacity.com")


def test_an_earlier_runs_source_json_never_vouches_for_hand_exports(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    record_source(run, dataverse_url="https://contoso.crm4.dynamics.com")
    reconcile_files(SAMPLE / CONTACTS_FILE, SAMPLE / ACCOUNTS_FILE, run)
    assert not (run / "source.json").exists()
    with pytest.raises(ConfigError, match="does not record"):
        check_target(run, "dynamics", "https://contoso.crm4.dynamics.com")


def test_record_source_keeps_its_format_with_per_side_times(tmp_path: Path) -> None:
    record_source(tmp_path, dataverse_url="https://a.crm.dynamics.com/",
                  strivacity_url="https://b.strivacity.com", strivacity_store="default",
                  pulled_at=EARLY)
    source = json.loads((tmp_path / "source.json").read_text())
    assert source["pulled_at"] == source["dynamics"]["pulled_at"] == "2026-11-30T22:00:05Z"
    assert source["dynamics"]["url"] == "https://a.crm.dynamics.com"
    assert source["strivacity"]["store"] == "default"
