"""environment.yml and pyproject.toml must name the same packages at the same floors."""

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return {s.replace(" ", "").lower() for s in specs}


def _environment() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    specs = re.findall(r"^\s+- ([A-Za-z][^\s#]*)\s*$", pip_section, flags=re.MULTILINE)
    return {s.lower() for s in specs}


def test_environment_lists_the_same_packages_as_pyproject() -> None:
    env, py = _environment(), _pyproject()
    assert env == py, (f"only in environment.yml: {sorted(env - py)}; "
                       f"only in pyproject: {sorted(py - env)}")


# ---------------------------------------------------------------- the wheel is a real install

PYTHON_OUTSIDE = """
import sys
sys.modules["matplotlib"] = None  # as on a `.[test]` install: `import matplotlib` fails
import recon
from recon.resources import notebook, sample_dir
assert "site-packages" in recon.__file__ and {checkout!r} not in recon.__file__, recon.__file__
assert notebook("report").is_file() and notebook("explore").is_file()
assert (sample_dir() / "dynamics_contacts.csv").is_file()
view = recon.open_run(sys.argv[1])
print(view.summary["pairs"]["total"])
"""


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_a_wheel_installed_outside_the_checkout_runs_demo_and_report(tmp_path: Path) -> None:
    """Build the wheel, install it into a new venv and use it from a folder of its own.

    The venv gets recon from the wheel only; its third-party packages come from this test's
    environment through a ``.pth`` line (and their Jupyter data files, such as nbconvert's
    templates, through JUPYTER_PATH): no network, no index. What is tested is recon's own
    packaging: data files, entry point, metadata, and imports that need no checkout.
    """
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(dist)], tmp_path, dict(os.environ))
    wheel = next(dist.glob("recon-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"recon/notebooks/reconciliation_report.ipynb", "recon/notebooks/explore_matches.ipynb",
            "recon/data/sample/dynamics_contacts.csv",
            "recon/data/sample/strivacity_accounts.ndjson"} <= set(names)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index",
          str(wheel)], tmp_path, dict(os.environ))
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH"} and not k.startswith(
               ("AZURE_", "DATAVERSE_", "STRIVACITY_"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", RECON_PROGRESS="0",
               PYTHONHASHSEED="0", HOME=str(tmp_path),
               JUPYTER_PATH=str(Path(sys.prefix) / "share" / "jupyter"))  # nbconvert's templates
    recon_exe = str(venv / "bin" / "recon")
    assert _run([recon_exe, "--version"], work, env).stdout.strip() == f"recon {_version()}"
    demo = _run([recon_exe, "demo", "--runs-dir", "runs"], work, env)
    assert "Report:" in demo.stdout
    report = _run([recon_exe, "report", "--runs-dir", "runs", "--label", "wheel"], work, env)
    run_dir = next((work / "runs").glob("*-wheel"))
    assert (run_dir / "report.html").is_file() and str(run_dir.name) in report.stdout
    assert json.loads((run_dir / "run.json").read_text())["outcome"] == "ok"
    demo_dir = next((work / "runs").glob("*-demo"))
    opened = _run([str(venv / "bin" / "python"), "-c",
                   PYTHON_OUTSIDE.format(checkout=str(ROOT)), str(demo_dir)], work, env)
    summary = json.loads((demo_dir / "summary.json").read_text())
    assert opened.stdout.strip() == str(summary["pairs"]["total"])


def _version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_open_run_needs_no_matplotlib(tmp_path: Path) -> None:
    """The tables of a run read back on an install without the notebooks extra."""
    from recon.api import reconcile_files
    from recon.resources import sample_dir
    reconcile_files(sample_dir() / "dynamics_contacts.csv",
                    sample_dir() / "strivacity_accounts.ndjson", tmp_path / "run")
    code = ("import sys; sys.modules['matplotlib'] = None; import recon; "
            "print(len(recon.open_run(sys.argv[1]).matches))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
