"""The conflicts report: order, content, escaping and review status, from frames shaped like the warehouse's."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from flows.errors import ConfigError, InputError
from flows.report.render import build_cards, paginate, render_report
from flows.settings import ReportSettings
from tests.report.frames import seed_frames


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return seed_frames()


def test_flagged_conflicts_come_first_by_severity(frames) -> None:
    cards = build_cards(*frames)
    order = [(c.verdict, c.severity) for c in cards]
    ranks = [({"conflict": 0, "compatible": 1, "agree": 2}[v], {"high": 0, "medium": 1, "low": 2, "none": 3}[s])
             for v, s in order]
    assert ranks == sorted(ranks)
    assert order[0] == ("conflict", "high") and order[-1][0] == "agree"


def test_markdown_and_html_show_sources_verdicts_and_reasons(frames, tmp_path: Path) -> None:
    md_path, html_path = render_report(*frames, tmp_path, run_id="run-7")
    md, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    conflicts, _ = frames
    n_conflicts = int((conflicts.verdict == "conflict").sum())
    assert f"**{n_conflicts} conflicts**" in md and "run-7" in md
    # the remark dating: both documents, the reason and the reconciling date
    assert "January 2016 would reconcile them" in md and "January 2016 would reconcile them" in page
    for doc in ("000_8886242603610b56", "003_0a0e6922e87f18a4", "001_dda66812b07d539f"):
        assert doc in md and doc in page
    # a repaired sentence shows the garbled original beside it
    assert "genuinely in love v each other" in page and 'class="orig"' in page
    assert "<svg" in page and 'class="bar dashed"' in page  # the unanchored January spans the axis
    assert md.index("## Flagged conflicts") < md.index("## Compatible") < md.index("## Agreeing")


def test_html_is_self_contained(frames, tmp_path: Path) -> None:
    _, html_path = render_report(*frames, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "<link" not in page


def test_everything_is_escaped(frames, tmp_path: Path) -> None:
    conflicts, evidence = frames
    evil = "<script>alert(1)</script> | & \"x\""
    conflicts = conflicts.assign(summary=conflicts.summary + evil, review_note=evil)
    evidence = evidence.assign(sentence=evil, outlet=evil)
    md_path, html_path = render_report(conflicts, evidence, tmp_path)
    page, md = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in md and "\\|" in md


def test_review_status_is_shown(tmp_path: Path) -> None:
    first = seed_frames()[0].conflict_id.iloc[0]
    conflicts, evidence = seed_frames({first: ("resolve", "Casino Night", "checked the episode guide")})
    md_path, html_path = render_report(conflicts, evidence, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "resolve → Casino Night" in page and "checked the episode guide" in page
    assert "1 reviewed" in page


def test_missing_columns_are_named(frames, tmp_path: Path) -> None:
    conflicts, evidence = frames
    with pytest.raises(InputError, match="verdict"):
        render_report(conflicts.drop(columns=["verdict"]), evidence, tmp_path)


def test_empty_report_renders(frames, tmp_path: Path) -> None:
    conflicts, evidence = frames
    md_path, html_path = render_report(conflicts.iloc[0:0], evidence.iloc[0:0], tmp_path)
    assert "0 compared groups" in md_path.read_text(encoding="utf-8")
    assert "No groups were compared" in html_path.read_text(encoding="utf-8")


def test_a_failed_render_leaves_the_previous_report_whole(frames, tmp_path: Path, monkeypatch) -> None:
    """The report is swapped in whole: a failure while writing keeps the last complete report and no temp file."""
    md_path, html_path = render_report(*frames, tmp_path, run_id="run-1")
    before = html_path.read_text(encoding="utf-8")
    real_replace = __import__("os").replace

    def broken_replace(src, dst):
        if str(dst).endswith(".html"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr("flows.report.render.os.replace", broken_replace)
    with pytest.raises(OSError):
        render_report(*frames, tmp_path, run_id="run-2")
    assert html_path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conflicts.html", "conflicts.md"]


def test_a_card_with_members_left_out_says_how_many_and_how_to_see_them(frames, tmp_path: Path) -> None:
    conflicts, evidence = frames
    first = conflicts.conflict_id.iloc[0]
    n = int(conflicts.n_claims.iloc[0])
    assert n >= 2
    shown = pd.concat([evidence[evidence.conflict_id != first], evidence[evidence.conflict_id == first].iloc[:1]])
    md_path, html_path = render_report(conflicts, shown, tmp_path)
    md, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    assert md.count("the most trusted per position") == 1 and f"conflict_id = '{first}'" in md
    assert page.count(f"Showing 1 of {n} claims") == 1


def _page_cards(path: Path) -> list[str]:
    return re.findall(r'<section class="card \w+" id="c-([^"]+)"', path.read_text(encoding="utf-8"))


def test_html_pages_hold_every_card_once_in_report_order(frames, tmp_path: Path) -> None:
    """A large report is cut into pages; together they show every group once, flagged conflicts first."""
    order = [c.conflict_id for c in build_cards(*frames)]
    _, first = render_report(*frames, tmp_path, settings=ReportSettings(cards_per_page=3))
    n_pages = -(-len(order) // 3)
    names = [first.name] + [f"conflicts-p{n}.html" for n in range(2, n_pages + 1)]
    assert sorted(p.name for p in tmp_path.glob("*.html")) == sorted(names)
    pages = [_page_cards(tmp_path / name) for name in names]
    assert [len(p) for p in pages[:-1]] == [3] * (n_pages - 1) and 1 <= len(pages[-1]) <= 3
    assert [cid for page in pages for cid in page] == order
    for n, name in enumerate(names, start=1):
        page = (tmp_path / name).read_text(encoding="utf-8")
        assert f"page {n} of {n_pages}" in page and f'data-page="{n}"' in page
        assert all(f'href="{other}"' in page for other in names)  # every page links to every page
        assert ('rel="prev"' in page) == (n > 1) and ('rel="next"' in page) == (n < n_pages)
        # the header counts the whole report, not the page
        assert f"{len(order)} groups compared" in page


def test_a_shorter_report_removes_the_pages_it_no_longer_has(frames, tmp_path: Path) -> None:
    render_report(*frames, tmp_path, settings=ReportSettings(cards_per_page=1))
    assert (tmp_path / "conflicts-p8.html").exists()
    (tmp_path / "conflicts-p2-notes.html").write_text("mine", encoding="utf-8")  # not a page: left alone
    render_report(*frames, tmp_path, settings=ReportSettings(cards_per_page=5))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "conflicts-p2-notes.html", "conflicts-p2.html", "conflicts.html", "conflicts.md"]
    render_report(*frames, tmp_path)
    assert "nav class=\"pager\"" not in (tmp_path / "conflicts.html").read_text(encoding="utf-8")
    assert not (tmp_path / "conflicts-p2.html").exists()


def test_a_failure_on_a_later_page_keeps_every_previous_page(frames, tmp_path: Path, monkeypatch) -> None:
    render_report(*frames, tmp_path, run_id="run-1", settings=ReportSettings(cards_per_page=2))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    import flows.report.render as render

    real = render._write_stream

    def failing(path: Path, chunks):
        if path.name == "conflicts-p3.html":
            raise OSError("disk full")
        return real(path, chunks)

    monkeypatch.setattr(render, "_write_stream", failing)
    with pytest.raises(OSError, match="disk full"):
        render_report(*frames, tmp_path, run_id="run-2", settings=ReportSettings(cards_per_page=2))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_cards_per_page_below_one_is_refused(frames, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RECON_REPORT_CARDS_PER_PAGE"):
        ReportSettings(cards_per_page=0)
    with pytest.raises(InputError, match="at least 1"):
        paginate(build_cards(*frames), 0)


def test_a_card_says_which_positions_and_what_explanation_it_left_out(frames, tmp_path: Path) -> None:
    conflicts, evidence = frames
    first = conflicts.conflict_id.iloc[0]
    long = conflicts.copy()
    long.loc[long.conflict_id == first, "explanation"] = "position " * 400  # 3,600 characters
    long.loc[long.conflict_id == first, ["n_positions", "n_claims"]] = (40, 100)  # as if 38 positions were left out
    limit = int(conflicts.explanation.str.len().max())  # every other explanation fits
    assert limit < 3600
    md_path, html_path = render_report(long, evidence, tmp_path, settings=ReportSettings(explanation_chars=limit))
    md, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    card = page[page.index(f'id="c-{first}"'):]
    card = card[: card.index("</section>")]
    why = re.search(r"<strong>Why:</strong> (position[^<]*)", card).group(1)
    assert len(why.strip()) <= limit + 2 and why.strip().endswith("…")
    assert f"SELECT explanation FROM conflicts WHERE conflict_id = '{first}'" in card
    shown = len(set(evidence[evidence.conflict_id == first].position))
    assert f"and {shown} of 40 positions" in card and f"of {shown} of 40 positions" in md
    assert page.count("(shortened; all of it") == 1 and md.count("(shortened; all of it") == 1


def _pages(verdicts: list[str]) -> list:
    from flows.report.render import Page, page_name

    return [Page(n, page_name(n), n, n, (v,)) for n, v in enumerate(verdicts, start=1)]


def test_the_pager_of_many_pages_is_a_window_with_each_verdicts_first_page() -> None:
    from flows.report.render import pager

    pages = _pages(["conflict"] * 31 + ["compatible"] * 8 + ["agree"] * 56)  # 95 pages, as at 20,000 articles
    links, starts = pager(pages, 40)
    assert [p.number if p else None for p in links] == [1, None, 37, 38, 39, 40, 41, 42, 43, None, 95]
    assert [(v, p.number) for v, p in starts] == [("conflict", 1), ("compatible", 32), ("agree", 40)]
    assert [p.number if p else None for p in pager(pages, 1)[0]] == [1, 2, 3, 4, None, 95]
    assert [p.number if p else None for p in pager(pages, 94)[0]] == [1, None, 91, 92, 93, 94, 95]
    few = _pages(["conflict"] * 11)
    assert [p.number for p in pager(few, 6)[0]] == list(range(1, 12))  # few pages: every one linked
