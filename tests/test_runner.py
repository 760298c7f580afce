"""recon.runner: refusals and thresholds (no kernel), then real papermill runs shared per module."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from recon import report as rr
from recon import runfolder as rf
from recon.cli import main
from recon.errors import ConfigError, InputError
from recon.runner import (
    SUMMARY_PATHS,
    ReportOptions,
    RunOutcome,
    _new_run_dir,
    main_report,
    notebook_parameters,
    parse_threshold,
    resolve_source,
    run_report,
)
from recon.settings import VARIABLES

GOLDEN = Path(__file__).parent / "golden" / "report_sample.json"
REGENERATE = "RECON_UPDATE_GOLDEN"
SECRET_MARKER = "not-a-real-secret-8c1f"
RUN_FILES = (*rf.RUN_FOLDER_FILES, rf.REPORT_NOTEBOOK, rf.REPORT_HTML, rf.RUN_FILE)

# ---------------------------------------------------------------- refusals (no kernel started)


def test_unknown_parameter_is_refused_before_any_folder_exists(tmp_path: Path) -> None:
    options = ReportOptions(runs_dir=tmp_path, parameters={"colour": "red"})
    with pytest.raises(ConfigError, match=r"'colour' is not a parameter.*valid: .*runs_dir"):
        run_report(options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["client_secret", "password", "api_key", "access_token",
                                  "AZURE_CLIENT_SECRET", "credential", "cert_path"])
def test_secret_looking_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"'{name}' looks like a secret.*environment"):
        notebook_parameters(ReportOptions(runs_dir=tmp_path, parameters={name: "x"}))


def test_a_secret_value_is_refused_whatever_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIVACITY_CLIENT_SECRET", SECRET_MARKER)
    with pytest.raises(ConfigError, match="'fields_path' holds the value of a secret"):
        notebook_parameters(ReportOptions(parameters={"fields_path": SECRET_MARKER}))


def test_source_and_label_are_checked() -> None:
    with pytest.raises(ConfigError, match="valid: sample, live, files"):
        notebook_parameters(ReportOptions(source="s3"))
    with pytest.raises(ConfigError, match="needs both --dynamics FILE and --strivacity FILE"):
        notebook_parameters(ReportOptions(source="files", dynamics=Path("a.csv")))
    with pytest.raises(ConfigError, match="--label '../x'"):
        notebook_parameters(ReportOptions(label="../x"))


@pytest.fixture()
def exports(tmp_path: Path) -> tuple[Path, Path]:
    dynamics, strivacity = tmp_path / "d.csv", tmp_path / "s.ndjson"
    dynamics.write_text("contactid,emailaddress1\n", encoding="utf-8")
    strivacity.write_text("{}\n", encoding="utf-8")
    return dynamics, strivacity


def test_file_paths_become_absolute_parameters(exports: tuple[Path, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(exports[0].parent)
    params = notebook_parameters(ReportOptions(source="files", dynamics=Path("d.csv"),
                                               strivacity=exports[1]))
    assert params["dynamics_path"] == str(exports[0].resolve())
    assert params["source"] == "files"


def test_given_paths_mean_files_and_nothing_means_the_sample(exports: tuple[Path, Path]) -> None:
    dynamics, strivacity = exports
    assert resolve_source(ReportOptions(dynamics=dynamics, strivacity=strivacity)) == "files"
    assert resolve_source(ReportOptions()) == "sample"
    assert resolve_source(ReportOptions(source="live")) == "live"


@pytest.mark.parametrize(("source", "give"), [("sample", "dynamics"), ("sample", "both"),
                                              ("live", "strivacity"), ("live", "both")])
def test_paths_with_another_source_are_refused(source: str, give: str,
                                               exports: tuple[Path, Path]) -> None:
    dynamics, strivacity = exports
    options = ReportOptions(source=source, dynamics=dynamics if give != "strivacity" else None,
                            strivacity=strivacity if give != "dynamics" else None)
    with pytest.raises(ConfigError, match=rf"--source {source} reads .* would be ignored\. "
                                          "Drop --source"):
        resolve_source(options)


@pytest.mark.parametrize("missing", ["dynamics", "strivacity"])
def test_one_path_alone_names_the_other(missing: str, exports: tuple[Path, Path]) -> None:
    dynamics, strivacity = exports
    options = ReportOptions(dynamics=None if missing == "dynamics" else dynamics,
                            strivacity=None if missing == "strivacity" else strivacity)
    with pytest.raises(ConfigError, match=f"--{missing} is missing"):
        resolve_source(options)


@pytest.mark.parametrize("which", ["dynamics", "strivacity"])
def test_a_path_that_does_not_exist_or_is_a_folder_is_input_error(
        which: str, exports: tuple[Path, Path], tmp_path: Path) -> None:
    for bad, problem in ((tmp_path / "nowhere.csv", "does not exist"), (tmp_path, "is a folder")):
        paths = {"dynamics": exports[0], "strivacity": exports[1], which: bad}
        with pytest.raises(InputError, match=rf"{re.escape(str(bad))}: {problem}.*--{which}"):
            resolve_source(ReportOptions(**paths))


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["report", *args])
    return code, capsys.readouterr().err


def test_cli_report_on_a_missing_export_exits_2_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    sample = rr.SAMPLE_DIR / "dynamics_contacts.csv"
    code, err = _report(capsys, "--dynamics", str(sample), "--strivacity",
                        str(tmp_path / "typo.ndjson"), "--runs-dir", str(runs))
    assert code == 2 and "typo.ndjson: does not exist" in err and "Traceback" not in err
    assert not runs.exists()
    code, err = _report(capsys, "--source", "sample", "--dynamics", str(sample),
                        "--runs-dir", str(runs))
    assert code == 2 and "--source sample reads the bundled sample tenant" in err
    assert not runs.exists()


def test_cli_live_report_without_settings_names_them_all_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    runs = tmp_path / "runs"
    code, err = _report(capsys, "--source", "live", "--runs-dir", str(runs))
    assert code == 2 and "Traceback" not in err
    assert err.startswith("recon: 7 settings need fixing:")
    for name in ("DATAVERSE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                 "STRIVACITY_URL", "STRIVACITY_CLIENT_ID", "STRIVACITY_CLIENT_SECRET"):
        assert name in err
    assert not runs.exists()


# ---------------------------------------------------------------- thresholds (pure)

SUMMARY = {"dynamics": {"duplicate_groups": 2, "review_reasons": {"missing_email": 4}},
           "drift": {"pairs": 500, "fields": {"city": 3}}}


@pytest.mark.parametrize(("expr", "exceeded"), [
    ("drift.pairs>500", False), ("drift.pairs>=500", True), ("drift.pairs<501", True),
    ("drift.pairs<=499", False), ("drift.pairs==500", True), ("drift.pairs!=500", False),
    ("dynamics.duplicate_groups>0", True), (" drift.fields.city > 2.5 ", True),
    ("drift.fields.phone>0", False), ("dynamics.review_reasons.missing_email>3", True),
])
def test_thresholds_compare_the_summary_figure(expr: str, exceeded: bool) -> None:
    assert parse_threshold(expr).exceeded(SUMMARY) is exceeded


@pytest.mark.parametrize(("expr", "value", "exceeded"), [
    ("dynamics.match_rate<0.9", 0.75, True), ("dynamics.match_rate<0.75", 0.75, False),
    ("strivacity.match_rate>=0.5", 0.5, True), ("strivacity.match_rate<0.6", 0.5, True)])
def test_match_rate_is_matched_over_records(expr: str, value: float, exceeded: bool) -> None:
    summary = {"dynamics": {"records": 8, "matched": 6}, "strivacity": {"records": 12,
                                                                         "matched": 6}}
    threshold = parse_threshold(expr)
    assert threshold.value(summary) == value
    assert threshold.exceeded(summary) is exceeded


def test_match_rate_of_an_empty_side_is_zero() -> None:
    assert parse_threshold("dynamics.match_rate<0.9").value(
        {"dynamics": {"records": 0, "matched": 0}}) == 0.0


def test_unknown_path_lists_the_valid_paths() -> None:
    with pytest.raises(ConfigError, match=r"'drift.pair' is not a summary.json figure.*"
                                          r"valid paths: .*drift\.pairs.*batches\.update_dynamics"):
        parse_threshold("drift.pair>1")
    assert "dynamics.duplicate_groups" in SUMMARY_PATHS


@pytest.mark.parametrize("expr", ["drift.pairs", "drift.pairs>>1", "drift.pairs>many", ""])
def test_malformed_expression_names_the_operators(expr: str) -> None:
    with pytest.raises(ConfigError, match="not PATH OP NUMBER; operators: >= <= == != > <"):
        parse_threshold(expr)


def test_cli_bad_fail_on_exits_2_with_the_reason(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main_report(["--runs-dir", str(tmp_path), "--fail-on", "drift.typo>1"])
    assert code == 2
    assert "valid paths" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- real runs, shared


@dataclass(frozen=True)
class Runs:
    runs_dir: Path
    first: RunOutcome
    threshold: RunOutcome
    failed: RunOutcome
    crashed: RunOutcome
    third: RunOutcome


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Five runs in one runs folder: ok, threshold exceeded, bad input, crashed, ok (~30 s)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:  # secrets live in the environment, never in a run
        mp.setenv("AZURE_CLIENT_SECRET", SECRET_MARKER)
        mp.setenv("STRIVACITY_CLIENT_SECRET", SECRET_MARKER)
        first = run_report(ReportOptions(runs_dir=runs_dir, label="first"))
    threshold = run_report(ReportOptions(runs_dir=runs_dir, label="limits",
                                         fail_on=("drift.pairs>=0", "dynamics.records<0")))
    broken = tmp_path_factory.mktemp("exports") / "broken_contacts.csv"
    broken.write_bytes(b"")  # exists, so it passes the checks; the kernel cannot read it
    failed = run_report(ReportOptions(source="files", runs_dir=runs_dir, label="broken",
                                      dynamics=broken,
                                      strivacity=rr.SAMPLE_DIR / "strivacity_accounts.ndjson"))
    crashed = run_report(ReportOptions(runs_dir=runs_dir, label="crashed",
                                       parameters={"examples": "many"}))
    third = run_report(ReportOptions(runs_dir=runs_dir))
    return Runs(runs_dir, first, threshold, failed, crashed, third)


def _outputs(notebook: Path, tag: str, mime: str = "text/plain") -> str:
    """What the cell tagged ``tag`` showed, as ``mime`` (streams as their text)."""
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if tag in c.metadata.get("tags", []))
    return "\n".join(o.get("data", {}).get(mime, o.get("text", "")) for o in cell.outputs)


def test_ok_run_writes_the_whole_run_folder(runs: Runs) -> None:
    run = runs.first
    assert (run.exit_code, run.outcome, run.error) == (0, "ok", None), run.error
    assert re.fullmatch(r"\d{8}T\d{6}Z-first", run.run_dir.name)
    for name in RUN_FILES:
        assert (run.run_dir / name).is_file(), name
    assert (run.run_dir / "batches").is_dir()
    meta = json.loads((run.run_dir / "run.json").read_text())
    assert meta["parameters"]["source"] == "sample"
    assert meta["parameters"]["run_dir"] == str(run.run_dir.resolve())
    assert set(meta["versions"]) == {"recon", "pandas", "python"}
    assert (meta["outcome"], meta["exit_code"]) == ("ok", 0)
    assert meta["started"] <= meta["finished"]


def test_html_hides_code_and_needs_no_internet(runs: Runs) -> None:
    html = (runs.first.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Headline figures" in html
    assert html.count("data:image/png;base64") >= 3  # overlap, drift, history
    assert "rr.headline" not in html and "load_sides" not in html
    assert "No description has been provided" not in html  # every chart has alt text
    assert not re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["']https?:""", html)


def test_output_notebook_has_no_progress_bars_or_warnings(runs: Runs) -> None:
    nb = nbformat.read(runs.first.run_dir / "report.ipynb", as_version=4)
    stderr = [o.text for c in nb.cells for o in c.get("outputs", [])
              if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []


def test_secrets_from_the_environment_never_reach_the_run_folder(runs: Runs) -> None:
    for path in runs.first.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET_MARKER.encode() not in path.read_bytes(), path


def test_threshold_exceeded_gives_exit_3_and_names_the_breach(runs: Runs) -> None:
    run = runs.threshold
    assert (run.exit_code, run.outcome) == (3, "threshold")
    assert run.breaches == ("drift.pairs>=0",)
    meta = json.loads((run.run_dir / "run.json").read_text())
    assert meta["fail_on"] == ["drift.pairs>=0", "dynamics.records<0"]
    assert meta["breaches"] == ["drift.pairs>=0"] and meta["exit_code"] == 3


def test_bad_input_in_the_notebook_leaves_its_html_and_exits_2(runs: Runs) -> None:
    run = runs.failed
    assert (run.exit_code, run.outcome, run.error_type) == (2, "failed", "InputError")
    assert run.html is not None and run.html.is_file()
    assert run.error is not None and "broken_contacts.csv" in run.error
    assert not (run.run_dir / "summary.json").exists()
    meta = json.loads((run.run_dir / "run.json").read_text())
    assert (meta["outcome"], meta["exit_code"]) == ("failed", 2)


def test_a_notebook_that_crashes_leaves_its_html_and_exits_1(runs: Runs) -> None:
    run = runs.crashed
    assert (run.exit_code, run.outcome) == (1, "failed")
    assert run.error_type is not None and run.error_type not in ("InputError", "ConfigError")
    assert run.html is not None and run.html.is_file()
    meta = json.loads((run.run_dir / "run.json").read_text())
    assert (meta["outcome"], meta["exit_code"]) == ("failed", 1)


def test_history_spans_the_three_finished_runs(runs: Runs) -> None:
    history = rr.run_history(runs.runs_dir)
    names = [runs.first.run_dir.name, runs.threshold.run_dir.name, runs.third.run_dir.name]
    names += [runs.crashed.run_dir.name] if (runs.crashed.run_dir / "summary.json").exists() \
        else []
    names.sort()
    assert history["run"].tolist() == names  # the failed run has no summary and is left out
    shown = _outputs(runs.third.run_dir / "report.ipynb", "history")
    assert all(name in shown for name in names)


def test_runs_started_in_the_same_second_get_distinct_folders(tmp_path: Path) -> None:
    first, second = _new_run_dir(tmp_path, "x"), _new_run_dir(tmp_path, "x")
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name in {f"{first.name}.2", *(p.name for p in tmp_path.iterdir())}


def test_golden_report_figures(runs: Runs) -> None:
    """Key figures of the sample report; set RECON_UPDATE_GOLDEN=1 to accept a change."""
    actual = {"summary": json.loads((runs.first.run_dir / "summary.json").read_text()),
              "headline_html": _outputs(runs.first.run_dir / "report.ipynb", "headline",
                                        "text/html")}
    if os.environ.get(REGENERATE) == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert GOLDEN.is_file(), (f"{GOLDEN} is missing: run `{REGENERATE}=1 .venv/bin/pytest "
                              f"tests/test_runner.py -k golden` and review the file")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert actual == expected, (f"the sample report changed; if that is intended, run "
                                f"`{REGENERATE}=1 .venv/bin/pytest tests/test_runner.py -k golden` "
                                f"and review the diff of {GOLDEN}")


def test_cli_threshold_exits_3_and_prints_the_value_that_breached(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--runs-dir", str(tmp_path), "--label", "cli",
                 "--fail-on", "drift.pairs>=0", "--fail-on", "dynamics.records<0"])
    out, err = capsys.readouterr()
    run_dir = next(tmp_path.iterdir())
    pairs = json.loads((run_dir / "summary.json").read_text())["drift"]["pairs"]
    assert code == 3
    assert f"run folder: {run_dir}" in out
    assert err == (f"recon: threshold exceeded: drift.pairs>=0 (it is {pairs}). Everything was "
                   f"written to {run_dir}.\n")


def test_cli_match_rate_threshold_prints_the_rate(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--runs-dir", str(tmp_path), "--fail-on", "dynamics.match_rate<0.9",
                 "--fail-on", "strivacity.match_rate<0.5"])
    summary = json.loads((next(tmp_path.iterdir()) / "summary.json").read_text())["dynamics"]
    rate = summary["matched"] / summary["records"]
    err = capsys.readouterr().err
    assert code == 3
    assert f"dynamics.match_rate<0.9 (it is {rate:.4g})" in err
    assert "strivacity.match_rate" not in err  # held, not breached
