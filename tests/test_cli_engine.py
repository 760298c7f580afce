"""`recon reconcile --engine duckdb --memory-limit --temp-dir`: the engine choice in the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recon.cli import main
from recon.cliparsers import ENGINE_CHOICES
from recon.engine.run import ENGINES
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
INPUTS = ["--dynamics", str(SAMPLE / CONTACTS_FILE), "--strivacity", str(SAMPLE / ACCOUNTS_FILE)]


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_parser_offers_every_engine() -> None:
    assert ENGINE_CHOICES == ENGINES


def test_duckdb_from_the_cli_writes_the_same_run_folder(tmp_path: Path) -> None:
    assert main(["reconcile", *INPUTS, "--out", str(tmp_path / "numpy")]) == 0
    spill = tmp_path / "spill"
    assert main(["reconcile", *INPUTS, "--out", str(tmp_path / "duckdb"), "--engine", "duckdb",
                 "--memory-limit", "256MB", "--temp-dir", str(spill)]) == 0
    default, duckdb = files(tmp_path / "numpy"), files(tmp_path / "duckdb")
    assert "summary.json" in default and len(default) >= 10
    assert default == duckdb
    # DuckDB ran: it made --temp-dir, and its own spill folder inside is gone again.
    assert spill.is_dir() and not any(spill.iterdir())


@pytest.mark.parametrize("extra", [["--memory-limit", "1GB"], ["--temp-dir", "spill"]])
def test_duckdb_settings_without_the_duckdb_engine_are_refused(
        tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", *INPUTS, "--out", str(tmp_path / "run"), *extra]) == 2
    assert "--engine duckdb" in capsys.readouterr().err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_a_memory_limit_duckdb_cannot_read_is_a_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reconcile", *INPUTS, "--out", str(tmp_path / "run"), "--engine", "duckdb",
                 "--memory-limit", "lots"])
    err = capsys.readouterr().err
    assert code == 2 and "lots" in err and "Traceback" not in err


def test_the_python_api_refuses_duckdb_settings_for_the_default_engine() -> None:
    import recon
    from recon.errors import ConfigError

    with pytest.raises(ConfigError, match="engine='duckdb'"):
        recon.reconcile(recon.read_dynamics(SAMPLE / CONTACTS_FILE),
                        recon.read_strivacity(SAMPLE / ACCOUNTS_FILE), memory_limit="1GB")


def test_the_report_runs_on_duckdb_with_the_same_summary(tmp_path: Path) -> None:
    from recon.runner import ReportOptions, run_report

    runs = {}
    for engine in ("numpy", "duckdb"):  # spark: tests/test_engine_spark.py
        spill = tmp_path / "spill" if engine == "duckdb" else None  # DuckDB makes it
        outcome = run_report(ReportOptions(source="sample", runs_dir=tmp_path / engine,
                                           engine=engine, temp_dir=spill))
        assert outcome.exit_code == 0, outcome.error
        runs[engine] = outcome
    params = json.loads((runs["duckdb"].run_dir / "run.json").read_text(encoding="utf-8"))
    assert params["parameters"]["engine"] == "duckdb" and (tmp_path / "spill").is_dir()
    assert runs["duckdb"].summary == runs["numpy"].summary
    for name in ("matches.csv", "drift.csv", "review.csv", "batches/update_strivacity.ndjson"):
        assert (runs["duckdb"].run_dir / name).read_bytes() == \
            (runs["numpy"].run_dir / name).read_bytes()


def test_the_report_refuses_duckdb_settings_without_duckdb(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--runs-dir", str(tmp_path / "runs"), "--memory-limit", "1GB"]) == 2
    assert "--engine duckdb" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_duckdb_spills_beside_the_run_by_default(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import recon.engine.sql.job as job

    seen: list[Path] = []

    class Recording(job.DuckDB):  # the engine itself, only noting where it spills
        def __enter__(self) -> job.DuckDB:
            seen.append(self.spill_folder)
            return super().__enter__()

    monkeypatch.setattr(job, "DuckDB", Recording)
    runs = tmp_path / "runs"
    assert main(["reconcile", *INPUTS, "--out", str(runs / "today"), "--engine", "duckdb"]) == 0
    assert [p.parent for p in seen] == [runs]  # the run's own disk, not the system's /tmp
    assert seen[0].name.startswith(".")  # hidden: never listed as a run
    assert sorted(p.name for p in runs.iterdir()) == ["today"]  # and gone afterwards
