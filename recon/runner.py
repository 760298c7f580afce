"""Scheduled report runs: papermill into a stamped run folder, offline HTML, run.json, thresholds.

``run_report(options)`` executes notebooks/reconciliation_report.ipynb into
``<runs_dir>/<UTC stamp>[-label]/`` with the executed notebook, ``report.html`` (code hidden),
the run-folder files of DESIGN §7 (written by the notebook) and ``run.json``. Everything that can
be checked before the kernel starts is (the source, the files, every live setting, the
thresholds): a refusal creates nothing. Exit codes are those of recon's error classes: 0 ok,
1 the notebook failed (its HTML is still written; 2 or 4 when the cell raised recon's input,
settings or service error), 3 a --fail-on threshold held. Secrets never become parameters: they
reach the kernel only through the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from recon.clihelp import add_engine_arguments, check_engine_flags, output_folder
from recon.errors import (
    EXIT_OK,
    ConfigError,
    Interrupted,
    JobFailed,
    ReconError,
    Stop,
    Terminated,
    ThresholdExceeded,
    error_class,
)
from recon.errors import report as report_error
from recon.kernels import interruptible, kernel_manager_class, stop_kernels
from recon.private import private_dir, private_tree
from recon.provenance import utc_text
from recon.resources import notebook
from recon.runfolder import (
    REPORT_HTML,
    REPORT_NOTEBOOK,
    RUN_FILE,
    SUMMARY_FILE,
)
from recon.settings import environment, live_settings
from recon.sources import SOURCES, resolve_source
from recon.thresholds import (  # noqa: F401  (recon.runner's names before)
    DERIVED,
    SUMMARY_PATHS,
    Threshold,
    parse_threshold,
    parse_thresholds,
)

NOTEBOOK = notebook("report")
EXIT_FAILED, EXIT_THRESHOLD = JobFailed.exit_code, ThresholdExceeded.exit_code
#: Parameter names that look like they hold a secret; such values belong in the environment.
SECRET_NAME = re.compile(r"secret|passw|pwd|token|key|credential|cert|private|auth|bearer",
                         re.IGNORECASE)
#: Environment variables whose values must never appear among the parameters.
SECRET_ENV = ("AZURE_CLIENT_SECRET", "STRIVACITY_CLIENT_SECRET")
#: The kernel sees these: no other library's bars in the output notebook, stable set ordering.
#: RECON_PROGRESS is added per run (``recon.progress.mode`` of this process), so a live pull in
#: the kernel shows its progress on this process's terminal or log, never in the notebook.
KERNEL_ENV = {"TQDM_DISABLE": "1", "PYTHONHASHSEED": "0"}
#: An empty inline script instead of the template's CDN scripts (require.js, MathJax): the report
#: needs neither, and a mailed report must not wait on the internet to open.
_NO_SCRIPT = "data:text/javascript,"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")



@dataclass(frozen=True)
class ReportOptions:
    """What one report run needs; ``parameters`` are extra notebook parameters by name."""

    source: str | None = None  # None: "files" when paths are given, else "sample"
    dynamics: Path | None = None
    strivacity: Path | None = None
    runs_dir: Path = Path("data/runs")
    label: str | None = None
    fail_on: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    notebook: Path = NOTEBOOK
    cell_timeout: int = 3600
    allow_empty: bool = False
    engine: str = "numpy"  # recon.engine.ENGINES; memory_limit and temp_dir are DuckDB's
    memory_limit: str | None = None
    temp_dir: Path | None = None
    spark_master: str | None = None  # Spark's


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: its folder, exit code, the breached thresholds and any error."""

    run_dir: Path
    exit_code: int
    outcome: str
    html: Path | None
    summary: dict[str, Any] | None
    breaches: tuple[str, ...] = ()
    error: str | None = None
    error_type: str | None = None  # the class name of what the notebook raised


def notebook_parameters(options: ReportOptions) -> dict[str, Any]:
    """The parameters papermill injects, after refusing secret-looking or unknown names."""
    source = resolve_source(options)
    if options.label is not None and not _LABEL.match(options.label):
        raise ConfigError(f"--label {options.label!r} may only hold letters, digits, '_', '.' "
                          "and '-' (at most 64); pick a plain label such as 'nightly'.")
    params: dict[str, Any] = {"source": source, **options.parameters}
    if options.allow_empty:
        params["allow_empty"] = True
    params.update(_engine_parameters(options))
    if options.dynamics:
        params["dynamics_path"] = str(Path(options.dynamics).resolve())
    if options.strivacity:
        params["strivacity_path"] = str(Path(options.strivacity).resolve())
    _refuse_secrets(params)
    _refuse_unknown(params, options.notebook)
    return params


def _engine_parameters(options: ReportOptions) -> dict[str, Any]:
    """The engine's notebook parameters; an engine's settings with another are refused."""
    check_engine_flags(options.engine, options.memory_limit, options.temp_dir,
                       options.spark_master)
    params: dict[str, Any] = {"engine": options.engine} if options.engine != "numpy" else {}
    if options.memory_limit:
        params["memory_limit"] = options.memory_limit
    if options.temp_dir:
        params["temp_dir"] = str(Path(options.temp_dir).resolve())
    if options.spark_master:
        params["spark_master"] = options.spark_master
    return params


def _refuse_secrets(params: Mapping[str, Any]) -> None:
    secrets = {os.environ[v] for v in SECRET_ENV if os.environ.get(v)}
    for name, value in params.items():
        if SECRET_NAME.search(name):
            raise ConfigError(f"parameter {name!r} looks like a secret; parameters are written "
                              "in clear into the run folder. Put it in the environment instead "
                              "(e.g. AZURE_CLIENT_SECRET), where recon reads its settings.")
        if str(value) in secrets:
            raise ConfigError(f"parameter {name!r} holds the value of a secret environment "
                              "variable; remove it, the kernel reads secrets from the environment.")


def _refuse_unknown(params: Mapping[str, Any], notebook: Path) -> None:
    import papermill as pm
    known = pm.inspect_notebook(str(notebook))
    for name in params:
        if name not in known:
            raise ConfigError(f"parameter {name!r} is not a parameter of {notebook.name}; "
                              f"valid: {', '.join(sorted(known))}.")


def run_report(options: ReportOptions) -> RunOutcome:
    """Execute the report notebook into a new stamped run folder and judge the thresholds."""
    thresholds = parse_thresholds(options.fail_on)
    params = notebook_parameters(options)
    if params["source"] == "live":
        live_settings()  # every missing or wrong variable at once, before any folder exists
    run_dir = _new_run_dir(Path(options.runs_dir), options.label)
    params = {**params, "run_dir": str(run_dir.resolve()),
              "runs_dir": str(Path(options.runs_dir).resolve())}
    started = _now()
    try:
        outcome = _run_into(run_dir, options, params, thresholds)
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: stop the kernel, mark the folder
        raise _interrupted(run_dir, params, thresholds, started,
                           terminated=isinstance(stop, Stop)) from None
    _write_run_json(outcome, params, thresholds, started)
    private_tree(run_dir)
    return outcome


def _run_into(run_dir: Path, options: ReportOptions, params: dict[str, Any],
              thresholds: Sequence[Threshold]) -> RunOutcome:
    """Execute, record the sources, export the HTML and judge the thresholds."""
    pulled_at = datetime.now(UTC)
    error, error_type = _execute(options, params, run_dir / REPORT_NOTEBOOK)
    if params["source"] == "live" and error is None:
        _record_live_source(run_dir, pulled_at)
    if options.source == "files" and error is None and options.dynamics and options.strivacity:
        from recon.api import pulled_from, record_files_source
        files = {"dynamics": options.dynamics, "strivacity": options.strivacity}
        record_files_source(run_dir, pulled_from(**files), files)
    html = _export_html(run_dir / REPORT_NOTEBOOK, run_dir / REPORT_HTML)
    summary = _read_summary(run_dir)
    breaches = tuple(t.text for t in thresholds if summary and t.exceeded(summary))
    if error is None and summary is None:
        error = f"the notebook finished without writing {SUMMARY_FILE}"
    code = (_error_class(error_type).exit_code if error else
            EXIT_THRESHOLD if breaches else EXIT_OK)
    return RunOutcome(run_dir=run_dir, exit_code=code, html=html, summary=summary,
                      outcome="failed" if error else "threshold" if breaches else "ok",
                      breaches=breaches, error=error, error_type=error_type)


def _interrupted(run_dir: Path, params: Mapping[str, Any], thresholds: Sequence[Threshold],
                 started: str, *, terminated: bool = False) -> Interrupted | Terminated:
    """After Ctrl-C or SIGTERM: kill the kernel (no tracebacks from an orphan), mark run.json
    incomplete."""
    stop_kernels()
    error = Terminated if terminated else Interrupted
    outcome, how = ("terminated", "SIGTERM") if terminated else ("interrupted", "Ctrl-C")
    _write_run_json(RunOutcome(run_dir=run_dir, exit_code=error.exit_code, outcome=outcome,
                               html=None, summary=None,
                               error=f"{outcome} ({how}) before the run finished"),
                    params, thresholds, started)
    private_tree(run_dir)
    return error(f"{outcome}; {run_dir} is incomplete (run.json: \"outcome\": \"{outcome}\"). "
                 "Run the report again.")


def _record_live_source(run_dir: Path, pulled_at: datetime) -> None:
    """Note which tenant a live run read (URLs only, never credentials) for apply's guards."""
    from recon.apply.guards import record_source
    record_source(run_dir, dataverse_url=os.environ.get("DATAVERSE_URL"),
                  strivacity_url=os.environ.get("STRIVACITY_URL"),
                  strivacity_store=os.environ.get("STRIVACITY_STORE", "default"),
                  pulled_at=pulled_at)


def _new_run_dir(runs_dir: Path, label: str | None) -> Path:
    """``<runs_dir>/<UTC stamp>[-label]``; a run started in the same second gets ``.2``, ``.3``."""
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + (f"-{label}" if label else "")
    private_dir(runs_dir, narrow=False)
    candidate, n = runs_dir / name, 1
    while True:
        try:
            candidate.mkdir()
            return private_dir(candidate)
        except FileExistsError:
            n += 1
            candidate = runs_dir / f"{name}.{n}"


def _error_class(name: str | None) -> type[ReconError]:
    """The recon error class a kernel named (its exit code holds), else JobFailed."""
    found = error_class(name)
    return JobFailed if found is None or found is ReconError else found


def _execute(options: ReportOptions, params: dict[str, Any],
             output: Path) -> tuple[str | None, str | None]:
    """Run the notebook with papermill; the error text and class name when a cell raised."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from recon.progress import mode
    try:
        with environment({**KERNEL_ENV, "RECON_PROGRESS": mode()}), interruptible():
            pm.execute_notebook(str(options.notebook), str(output), parameters=params,
                                kernel_name=_kernel_name(), progress_bar=False,
                                cwd=str(options.notebook.parent),
                                execution_timeout=options.cell_timeout,
                                config=_kernel_config(),
                                kernel_manager_class=kernel_manager_class())
    except PapermillExecutionError as exc:
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}", exc.ename
    except (RuntimeError, OSError, ValueError) as exc:  # kernel died or could not start
        return f"{type(exc).__name__}: {exc}", None
    return None, None


def _kernel_config() -> Any:
    """jupyter_client's supported switch for an encrypted kernel connection: CurveZMQ keys the
    kernel manager provisions when the kernelspec declares ``supported_encryption`` (ipykernel
    >= 7.3 does). That is what ipykernel's "running over TCP without encryption" warning asks
    for; with an older kernelspec the run goes on unencrypted, as before."""
    from traitlets.config import Config
    return Config({"KernelManager": {"transport_encryption": "auto"}})


def _kernel_name() -> str:
    """``python3`` running this interpreter; registers it in sys.prefix when it would not."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    python_names = {"python", "python3", f"python3.{sys.version_info[1]}"}
    try:
        argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    except NoSuchKernel:
        argv0 = ""
    if argv0 in python_names or (argv0 and Path(argv0).resolve() == Path(sys.executable).resolve()):
        return "python3"
    from ipykernel.kernelspec import install
    install(prefix=sys.prefix)
    os.environ["JUPYTER_PREFER_ENV_PATH"] = "1"
    return "python3"


def _export_html(notebook: Path, target: Path) -> Path | None:
    """HTML with code hidden and charts inline; works offline. None if there is no notebook."""
    if not notebook.is_file():
        return None
    import nbformat
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(template_name="lab", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True,
                            require_js_url=_NO_SCRIPT, mathjax_url=_NO_SCRIPT)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    target.write_text(body, encoding="utf-8")
    return target


def _read_summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / SUMMARY_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write_run_json(outcome: RunOutcome, params: Mapping[str, Any],
                    thresholds: Sequence[Threshold], started: str) -> None:
    import pandas as pd
    record = {"parameters": dict(params), "started": started, "finished": _now(),
              "outcome": outcome.outcome, "exit_code": outcome.exit_code, "error": outcome.error,
              "fail_on": [t.text for t in thresholds], "breaches": list(outcome.breaches),
              "notebook": REPORT_NOTEBOOK, "html": outcome.html.name if outcome.html else None,
              "versions": {"recon": version("recon"), "pandas": pd.__version__,
                           "python": platform.python_version()}}
    (outcome.run_dir / RUN_FILE).write_text(json.dumps(record, indent=2) + "\n",
                                              encoding="utf-8")


def _now() -> str:
    return utc_text(datetime.now(UTC))


# ---------------------------------------------------------------- the `recon report` command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``recon report``; the CLI wires them into its sub-command."""
    parser.add_argument("--source", choices=SOURCES, default=None,
                        help="files when --dynamics/--strivacity are given, else the bundled "
                             "sample; live pulls both systems (settings from the environment)")
    parser.add_argument("--dynamics", type=Path,
                        help="Dynamics contacts export (implies --source files)")
    parser.add_argument("--strivacity", type=Path,
                        help="Strivacity accounts export (implies --source files)")
    parser.add_argument("--runs-dir", type=output_folder, default=Path("data/runs"),
                        help="where run folders go (default data/runs)")
    parser.add_argument("--label", help="suffix of the run folder name, e.g. nightly")
    parser.add_argument("--fail-on", action="append", default=[], metavar="EXPR",
                        help="exit 3 when e.g. 'drift.pairs>500', 'dynamics.duplicate_groups>0' "
                             "or 'dynamics.match_rate<0.9' holds (dotted path into "
                             "summary.json, or a side's match_rate from 0 to 1; repeatable)")
    parser.add_argument("--allow-empty", action="store_true",
                        help="accept a side with zero records (refused by default)")
    add_engine_arguments(parser)


def options_from_args(args: argparse.Namespace) -> ReportOptions:
    """ReportOptions from parsed ``recon report`` arguments."""
    return ReportOptions(source=args.source, dynamics=args.dynamics, strivacity=args.strivacity,
                         runs_dir=args.runs_dir, label=args.label, fail_on=tuple(args.fail_on),
                         allow_empty=args.allow_empty, engine=args.engine,
                         memory_limit=args.memory_limit, temp_dir=args.temp_dir,
                         spark_master=args.spark_master)


def cmd_report(args: argparse.Namespace) -> int:
    """Run the report and print where it went; a failure or breach raises its recon error."""
    outcome = run_report(options_from_args(args))
    print(f"run folder: {outcome.run_dir}")
    if outcome.html:
        print(f"report: {outcome.html}")
    if outcome.error:
        raise _error_class(outcome.error_type)(
            f"the report failed: {outcome.error}. See {outcome.html or outcome.run_dir}.")
    if outcome.breaches:
        shown = "; ".join(f"{t.text} (it is {_figure(t.value(outcome.summary or {}))})"
                          for t in parse_thresholds(outcome.breaches))
        raise ThresholdExceeded(f"threshold exceeded: {shown}. Everything was written to "
                                f"{outcome.run_dir}.")
    return outcome.exit_code


def _figure(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.4g}"


def main_report(argv: Sequence[str] | None = None) -> int:
    """``recon report`` on its own: parse, run, map errors to exit codes."""
    parser = argparse.ArgumentParser(prog="recon report", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return cmd_report(parser.parse_args(argv))
    except (ReconError, KeyboardInterrupt) as exc:
        return report_error(exc)
