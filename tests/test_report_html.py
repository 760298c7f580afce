"""The exported HTML report works offline: no external resources, charts visible in Chromium.

The screenshot half needs Debian's Chromium (`apt-get install chromium`); `.ci/run` installs it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from recon.runner import ReportOptions, run_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MATCHED = (0x2A, 0x9D, 0x8F)   # overlap chart, "matched" bars
DRIFT = (0x26, 0x46, 0x53)     # drift-by-field bars
EXTERNAL = re.compile(r"<(script|img|link|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//",
                      re.IGNORECASE)


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outcome = run_report(ReportOptions(source="sample",
                                       runs_dir=tmp_path_factory.mktemp("runs")))
    assert outcome.exit_code == 0, outcome.error
    assert outcome.html is not None and outcome.html.is_file()
    return outcome.html


def test_html_loads_nothing_from_the_network(html: Path) -> None:
    text = html.read_text(encoding="utf-8")
    assert not EXTERNAL.findall(text), "the report references external resources"
    assert text.count("data:image/png;base64,") >= 2, "charts are not embedded as images"


def _pixels_near(png: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    pixels = (png[..., :3] * 255).round().astype(int)
    return int((np.abs(pixels - np.array(rgb)).max(axis=-1) <= tolerance).sum())


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install "
                                             "chromium); the offline screenshot test needs it")
def test_charts_render_in_headless_chromium_without_network(html: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--window-size=1200,2600", f"--screenshot={shot}", html.as_uri()],
        check=True, capture_output=True, timeout=120)
    png = image.imread(shot)
    assert _pixels_near(png, MATCHED) > 5000, "the overlap chart is not visible"
    assert _pixels_near(png, DRIFT) > 2000, "the drift-by-field chart is not visible"
