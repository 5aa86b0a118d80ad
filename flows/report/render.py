"""Render the conflicts report a person reviews: Markdown and one self-contained HTML page.

Needs: the ``conflicts`` and ``evidence`` frames the warehouse builds (columns listed in
``CONFLICT_COLUMNS`` and ``EVIDENCE_COLUMNS``).
Adds: ``conflicts.md`` and ``conflicts.html`` in ``out_dir`` (no network: CSS, JS and SVG inline),
flagged conflicts first, then compatible, then agreeing groups; per group what each source says
(the garbled original beside a repaired sentence), the verdict and why, the review status, a
timeline for dated claims, and in the HTML filters by verdict, kind and source.
The HTML comes in pages of ``cards_per_page`` cards (``conflicts.html`` first, then
``conflicts-p2.html`` ...), each with a pager (``pager``): at 20,000 articles one page would weigh
168 MB, more than a browser opens comfortably.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from flows.errors import InputError
from flows.settings import ReportSettings

TEMPLATES = Path(__file__).resolve().parent / "templates"
CONFLICT_COLUMNS = (
    "conflict_id", "group_key", "kind", "verdict", "severity", "summary", "explanation", "likely_value",
    "confidence", "n_docs", "n_claims", "n_positions", "review_decision", "review_value", "review_note", "reviewed_at",
)
EVIDENCE_COLUMNS = (
    "conflict_id", "claim_id", "doc_id", "source_path", "outlet", "position", "sentence", "original_text",
    "is_spun", "trust_weight", "time_value", "time_start", "time_end", "granularity", "extractor", "confidence",
    "raw_start", "raw_end",
)
VERDICT_ORDER = {"conflict": 0, "compatible": 1, "agree": 2}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "none": 3}
_SVG_WIDTH, _SVG_LABEL, _SVG_ROW = 640, 170, 22
_PAGE_NAME = re.compile(r"conflicts-p\d+\.html")  # pages after the first; conflicts.html is page 1
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _val(x: Any) -> Any:
    """None for pandas' missing values (None, NaN, NaT), the value otherwise."""
    if x is None:
        return None
    try:
        if pd.isna(x):
            return None
    except (TypeError, ValueError):
        pass
    return x


def _text(x: Any) -> str:
    v = _val(x)
    return "" if v is None else str(v)


def _as_date(x: Any) -> date | None:
    v = _val(x)
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, pd.Timestamp):
        return v.date()
    try:
        return date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


@dataclass
class Bar:
    x: float
    width: float
    y: float
    label: str
    value: str
    dashed: bool


@dataclass
class Timeline:
    width: int
    height: int
    label_width: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]


@dataclass
class Source:
    claim_id: str
    doc_id: str
    outlet: str
    source_path: str
    position: str
    sentence: str
    original: str
    is_spun: bool
    trust: str
    time: str
    extractor: str
    confidence: str
    span: str


@dataclass
class Card:
    conflict_id: str
    group_key: str
    kind: str
    verdict: str
    severity: str
    summary: str
    explanation: str
    likely: str
    confidence: str
    n_docs: int
    n_claims: int
    n_positions: int
    review: str
    review_decision: str
    review_note: str
    sources: list[Source] = field(default_factory=list)
    timeline: Timeline | None = None
    explanation_cut: bool = False  # the explanation is shortened on the card

    @property
    def source_ids(self) -> str:
        return json.dumps(sorted({s.doc_id for s in self.sources}))

    @property
    def positions_shown(self) -> int:
        return len({s.position for s in self.sources})


def _timeline(rows: list[Any]) -> Timeline | None:
    """Interval bars for the dated claims of one group; unanchored dates span the axis dashed."""
    items = []
    for r in rows:
        start, end = _as_date(r.time_start), _as_date(r.time_end)
        tv = _text(r.time_value)
        if start or tv:
            items.append((start, end, tv, f"{r.doc_id}", _text(r.position)))
    anchored = [(s, e) for s, e, *_ in items if s is not None]
    if not items or not anchored:
        return None
    lo = min(s for s, _ in anchored)
    hi = max((e or s) for s, e in anchored)
    pad = max((hi - lo).days * 0.08, 20)
    lo_o, hi_o = lo.toordinal() - pad, hi.toordinal() + pad
    span = hi_o - lo_o
    plot = _SVG_WIDTH - _SVG_LABEL - 10

    def x(d: date) -> float:
        return round(_SVG_LABEL + (d.toordinal() - lo_o) / span * plot, 1)

    bars = []
    for i, (s, e, tv, doc, value) in enumerate(items):
        y = 8 + i * _SVG_ROW
        if s is None:
            bars.append(Bar(_SVG_LABEL, plot, y, doc, f"{value} (year unknown: could fall anywhere)", True))
        else:
            x0 = x(s)
            x1 = x(e) if e else x0 + 3
            bars.append(Bar(x0, max(x1 - x0, 3.0), y, doc, value or tv, False))
    years = range(date.fromordinal(int(lo_o)).year, date.fromordinal(int(hi_o)).year + 2)
    step = max(1, math.ceil(len(years) / 8))
    ticks = [(x(date(yv, 1, 1)), str(yv)) for yv in years[::step] if lo_o <= date(yv, 1, 1).toordinal() <= hi_o]
    if len(ticks) < 2 and (hi - lo).days < 400:
        # a short span: month ticks read better than one year tick
        ticks = []
        d = date(lo.year, lo.month, 1)
        while d.toordinal() <= hi_o:
            if d.toordinal() >= lo_o:
                ticks.append((x(d), f"{_MONTHS[d.month - 1]} {d.year}"))
            d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        ticks = ticks[:: max(1, math.ceil(len(ticks) / 8))]
    height = 8 + len(items) * _SVG_ROW + 24
    return Timeline(_SVG_WIDTH, height, _SVG_LABEL, bars, ticks)


def _fmt_float(x: Any, digits: int = 2) -> str:
    v = _val(x)
    if v is None:
        return ""
    try:
        return f"{float(v):.{digits}f}"
    except (TypeError, ValueError):
        return str(v)


def _review_text(row: Any) -> tuple[str, str]:
    decision = _text(row.review_decision)
    if not decision:
        return "not reviewed", ""
    value = _text(row.review_value)
    at = _text(row.reviewed_at)
    parts = [decision + (f" → {value}" if value else "")]
    if at:
        parts.append(f"at {at[:19]}")
    return " ".join(parts), decision


def _sources(rows: list[Any]) -> list[Source]:
    out = []
    for r in sorted(rows, key=lambda r: (r.doc_id, r.claim_id)):
        start, end = _as_date(r.time_start), _as_date(r.time_end)
        when = _text(r.time_value)
        if start:
            when = f"{when} [{start.isoformat()}, {end.isoformat() if end else '?'})"
        span = ""
        if _val(r.raw_start) is not None and _val(r.raw_end) is not None:
            span = f"{int(r.raw_start)}–{int(r.raw_end)}"
        original = _text(r.original_text)
        out.append(
            Source(
                claim_id=_text(r.claim_id), doc_id=_text(r.doc_id), outlet=_text(r.outlet),
                source_path=_text(r.source_path), position=_text(r.position), sentence=_text(r.sentence),
                original=original if original and original != _text(r.sentence) else "",
                is_spun=bool(_val(r.is_spun)), trust=_fmt_float(r.trust_weight), time=when,
                extractor=_text(r.extractor), confidence=_fmt_float(r.confidence), span=span,
            )
        )
    return out


def _check_columns(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"report input '{name}' lacks columns {', '.join(missing)}; rebuild it from the warehouse")


def _shorten(text: str, limit: int) -> tuple[str, bool]:
    """The text cut to ``limit`` characters at a word boundary, and whether it was cut (0: never cut)."""
    if limit <= 0 or len(text) <= limit:
        return text, False
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;") + " …", True


def build_cards(conflicts: pd.DataFrame, evidence: pd.DataFrame, explanation_chars: int = 0) -> list[Card]:
    """One card per compared group aspect, flagged conflicts first (by severity), then compatible, then agree.

    ``explanation_chars`` > 0 shortens longer explanations to that many characters (the card says so).
    """
    _check_columns(conflicts, CONFLICT_COLUMNS, "conflicts")
    _check_columns(evidence, EVIDENCE_COLUMNS, "evidence")
    # rows as plain tuples, grouped once: per-group DataFrame slices cost milliseconds each
    ev_by_id: dict[str, list[Any]] = {}
    for row in evidence.itertuples(index=False):
        ev_by_id.setdefault(row.conflict_id, []).append(row)
    cards = []
    for r in conflicts.itertuples(index=False):
        rows = ev_by_id.get(r.conflict_id, [])
        review, decision = _review_text(r)
        conf = _val(r.confidence)
        explanation, cut = _shorten(_text(r.explanation), explanation_chars)
        cards.append(
            Card(
                conflict_id=_text(r.conflict_id), group_key=_text(r.group_key), kind=_text(r.kind),
                verdict=_text(r.verdict), severity=_text(r.severity) or "none", summary=_text(r.summary),
                explanation=explanation, likely=_text(r.likely_value),
                confidence="" if conf is None else f"{float(conf):.0%}",
                n_docs=int(_val(r.n_docs) or 0), n_claims=int(_val(r.n_claims) or 0),
                n_positions=int(_val(r.n_positions) or 0),
                review=review, review_decision=decision, review_note=_text(r.review_note),
                sources=_sources(rows), timeline=_timeline(rows) if _text(r.kind) == "time" else None,
                explanation_cut=cut,
            )
        )
    cards.sort(key=lambda c: (VERDICT_ORDER.get(c.verdict, 3), SEVERITY_ORDER.get(c.severity, 4), -c.n_docs,
                              c.summary, c.conflict_id))
    return cards


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell: HTML escaped, pipes escaped, one line."""
    s = html.escape(_text(text), quote=False).replace("|", "\\|")
    return " ".join(s.split())


@dataclass(frozen=True)
class Page:
    """One HTML page of the report: its cards' place in the whole order and the verdicts it holds."""

    number: int
    href: str
    first: int  # 1-based position of its first card among all cards
    last: int
    verdicts: tuple[str, ...]


def page_name(number: int) -> str:
    """The file name of report page ``number`` (1-based); page 1 is conflicts.html, the report's entry."""
    return "conflicts.html" if number == 1 else f"conflicts-p{number}.html"


def paginate(cards: list[Card], per_page: int) -> list[tuple[Page, list[Card]]]:
    """Cards cut into pages in report order (always at least one page, perhaps empty)."""
    if per_page < 1:
        raise InputError(f"cards per report page must be at least 1, got {per_page}")
    chunks = [cards[i : i + per_page] for i in range(0, len(cards), per_page)] or [[]]
    out = []
    for n, chunk in enumerate(chunks, start=1):
        first = (n - 1) * per_page + 1
        verdicts = tuple(dict.fromkeys(c.verdict for c in chunk))
        out.append((Page(n, page_name(n), first, first + len(chunk) - 1, verdicts), chunk))
    return out


_PAGER_ALL = 11  # up to this many pages, the pager links every one
_PAGER_AROUND = 3  # beyond it: the first, the last, and this many either side of the open page


def pager(pages: list[Page], current: int) -> tuple[list[Page | None], list[tuple[str, Page]]]:
    """The page links one page shows (None marks skipped pages) and the first page of each verdict.

    95 pages linked one by one filled four lines of the sticky header; a window around the open page
    plus a jump to where each verdict starts reaches every page in at most a few clicks.
    """
    starts: dict[str, Page] = {}
    for p in pages:
        for v in p.verdicts:
            starts.setdefault(v, p)
    if len(pages) <= _PAGER_ALL:
        return list(pages), list(starts.items())
    shown = {1, len(pages)} | set(range(current - _PAGER_AROUND, current + _PAGER_AROUND + 1))
    links: list[Page | None] = []
    for p in pages:
        if p.number in shown:
            links.append(p)
        elif links and links[-1] is not None:
            links.append(None)
    return links, list(starts.items())


def check_report_dir(out_dir: Path) -> None:
    """Refuse a report folder that is a file, or lies under one, before any work is done for it."""
    path = Path(out_dir)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise InputError(f"report folder {out_dir} cannot be made: {part} is a file; pass --report-dir DIR")
            return


def render_report(conflicts: pd.DataFrame, evidence: pd.DataFrame, out_dir: Path, *, run_id: str | None = None,
                  settings: ReportSettings | None = None) -> tuple[Path, Path]:
    """Write conflicts.md and self-contained HTML pages for review; return conflicts.md and the first page.

    Pages of an earlier, longer report that this one no longer has are removed.
    """
    settings = settings or ReportSettings()
    check_report_dir(out_dir)
    cards = build_cards(conflicts, evidence, settings.explanation_chars)
    counts = Counter(c.verdict for c in cards)
    severities = Counter(c.severity for c in cards if c.verdict == "conflict")
    reviewed = sum(1 for c in cards if c.review_decision)
    kinds = sorted({c.kind for c in cards})
    context = {
        "cards": cards, "counts": counts, "severities": severities, "reviewed": reviewed, "run_id": run_id or "",
        "kinds": kinds, "total": len(cards), "verdicts": sorted(counts, key=lambda v: VERDICT_ORDER.get(v, 3)),
    }
    pages = paginate(cards, settings.cards_per_page)
    loader = FileSystemLoader(str(TEMPLATES))
    html_env = Environment(loader=loader, autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                           lstrip_blocks=True)
    md_env = Environment(loader=loader, autoescape=False, undefined=StrictUndefined, trim_blocks=True,
                         lstrip_blocks=True)
    md_env.filters["md"] = _md
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path = out_dir / "conflicts.md"
    html_template = html_env.get_template("conflicts.html.j2")
    # streamed to temporary files (a large report is never one string in memory), then swapped in whole:
    # a run killed or failing mid-write leaves the previous report, not half of one
    written: list[tuple[Path, Path]] = []
    try:
        written.append((_write_stream(md_path, md_env.get_template("conflicts.md.j2").generate(**context)), md_path))
        index = [p for p, _ in pages]
        for page, chunk in pages:
            sources = sorted({(s.doc_id, s.outlet) for c in chunk for s in c.sources})
            path = out_dir / page.href
            links, starts = pager(index, page.number)
            chunks = html_template.generate(**{**context, "cards": chunk, "sources": sources, "page": page,
                                               "pages": index, "links": links, "starts": starts})
            written.append((_write_stream(path, chunks), path))
        for tmp, path in written:
            os.replace(tmp, path)
    finally:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
    keep = {p.href for p, _ in pages}
    for old in out_dir.iterdir():
        if _PAGE_NAME.fullmatch(old.name) and old.name not in keep:
            old.unlink(missing_ok=True)
    return md_path, out_dir / page_name(1)


def _write_stream(path: Path, chunks: Iterator[str]) -> Path:
    """Write rendered chunks to a temporary file beside ``path``; returns it (removed again on failure)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(chunks)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp
