"""Open the rendered report in a real headless Chromium and check what the page shows after its script ran."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.report.render import render_report
from flows.settings import ReportSettings
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


def test_pages_link_each_other_and_carry_the_filters(tmp_path: Path) -> None:
    """On page 2 of a paged report the filter from the address applies, and the pager links keep it."""
    conflicts, evidence = seed_frames()
    out = tmp_path / "paged"
    render_report(conflicts, evidence, out, settings=ReportSettings(cards_per_page=3))
    page2 = out / "conflicts-p2.html"
    card_re = r'<section class="card (\w+)"[^>]*data-sources="([^"]*)"([^>]*)>'
    plain = [(v, json.loads(html.unescape(ids))) for v, ids, _ in re.findall(card_re, page2.read_text(encoding="utf-8"))]
    # a source of one of the page's compatible cards; the page also holds other verdicts for the filter to hide
    source = next(docs[0] for v, docs in plain if v == "compatible")
    want = [(v, docs) for v, docs in plain if v == "compatible" and source in docs]
    assert len(plain) == 3 and want and len(want) < len(plain)
    dom = _chromium(tmp_path, "--dump-dom", page2.as_uri() + "#verdict=compatible&source=" + source).stdout
    assert 'data-filter-ready="1"' in dom and 'data-page="2"' in dom
    cards = re.findall(card_re, dom)
    shown = [(v, json.loads(html.unescape(ids))) for v, ids, rest in cards if 'hidden=""' not in rest]
    assert len(cards) == 3 and shown == want
    assert f'data-visible="{len(want)}"' in dom and f"{len(want)} of 3 shown" in dom
    # the pager's links now open the other pages with the same filters
    links = [(html.unescape(h), t) for h, t in re.findall(r'<a href="([^"]+)" data-href="([^"]+)"', dom)]
    assert links and all(href == target + "#verdict=compatible&source=" + source for href, target in links)
    assert {target for _, target in links} >= {"conflicts.html", "conflicts-p3.html"}
    # a source chosen on another page stays chosen here (and in the links on), with none of its cards here
    elsewhere = _chromium(tmp_path, "--dump-dom", page2.as_uri() + "#source=doc-on-another-page").stdout
    assert 'data-filter-ready="1"' in elsewhere and 'data-visible="0"' in elsewhere
    assert "doc-on-another-page (not on this page)" in elsewhere
    assert 'href="conflicts-p3.html#source=doc-on-another-page"' in elsewhere
