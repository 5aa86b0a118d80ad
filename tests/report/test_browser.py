"""Open the rendered report in a real headless Chromium and check what the page shows after its script ran."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.report.render import render_report
from tests.report.frames import seed_frames

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-extensions")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)")
    profile = tmp_path / "profile"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=90, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, int, int]:
    conflicts, evidence = seed_frames()
    out = tmp_path_factory.mktemp("report")
    _, html_path = render_report(conflicts, evidence, out, run_id="browser")
    n_time_conflicts = int(((conflicts.verdict == "conflict") & (conflicts.kind == "time")).sum())
    return html_path, len(conflicts), n_time_conflicts


def test_filters_run_and_show_every_group(report, tmp_path: Path) -> None:
    html_path, total, _ = report
    dom = _chromium(tmp_path, "--dump-dom", html_path.as_uri()).stdout
    assert 'data-filter-ready="1"' in dom, "the filter script did not run"
    assert f'data-visible="{total}"' in dom and f"{total} of {total} shown" in dom
    assert dom.count('<section class="card') == total
    assert "January 2016 would reconcile them" in dom


def test_filter_from_the_address_hides_other_groups(report, tmp_path: Path) -> None:
    html_path, total, n_time_conflicts = report
    dom = _chromium(tmp_path, "--dump-dom", html_path.as_uri() + "#verdict=conflict&kind=time").stdout
    assert 'data-filter-ready="1"' in dom
    assert n_time_conflicts >= 1
    assert f'data-visible="{n_time_conflicts}"' in dom and f"{n_time_conflicts} of {total} shown" in dom
    visible = re.findall(r'<section class="card (\w+)"[^>]*data-kind="(\w+)"[^>]*>', dom)
    hidden = re.findall(r'<section class="card \w+"[^>]*hidden=""', dom)
    assert len(visible) == total and len(hidden) == total - n_time_conflicts


def test_screenshot_renders(report, tmp_path: Path) -> None:
    html_path, _, _ = report
    shot = tmp_path / "report.png"
    _chromium(tmp_path, "--window-size=1280,1600", f"--screenshot={shot}", html_path.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few kB
