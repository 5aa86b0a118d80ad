"""Clean: article text without markup and site boilerplate.

Needs: RawDocument records and CleanSettings (which rule table to use).
Adds: CleanDocument records: ``clean_text`` (paragraphs joined by blank lines), an OffsetMap
back to ``raw_text``, and one BoilerplateHit per removed piece with the rule that removed it,
so nothing is lost. HTML goes through BeautifulSoup (lxml parser).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bs4 import BeautifulSoup, Comment

from flows.errors import RuleError
from flows.records import BoilerplateHit, CleanDocument, OffsetMap, RawDocument
from flows.rules import load_table
from flows.settings import CleanSettings

PARAGRAPH_SEP = "\n\n"
BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption", "td", "dt", "dd")
_LINE = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class LineRule:
    rule_id: str
    pattern: re.Pattern[str]
    reason: str
    before: str | None = None  # for context rules: the rule the next line must match


@dataclass(frozen=True)
class RuleSet:
    line_rules: tuple[LineRule, ...]
    context_rules: tuple[LineRule, ...]
    html_drop: tuple[tuple[str, str, str], ...]  # (rule_id, selector, reason)


@lru_cache(maxsize=8)
def load_rules(table: str) -> RuleSet:
    """Compile the boilerplate table; a bad pattern raises RuleError naming the rule."""
    line_rules, context_rules, html_drop = [], [], []
    for row in load_table(table, ("rule_id", "scope", "pattern", "reason", "source", "example")):
        scope = row["scope"]
        if scope == "html_drop":
            html_drop.append((row["rule_id"], row["pattern"], row["reason"]))
            continue
        try:
            pattern = re.compile(row["pattern"], re.IGNORECASE)
        except re.error as exc:
            raise RuleError(f"boilerplate rule {row['rule_id']} in {table}: bad pattern: {exc}") from exc
        if scope == "line":
            line_rules.append(LineRule(row["rule_id"], pattern, row["reason"]))
        elif scope.startswith("before:"):
            context_rules.append(LineRule(row["rule_id"], pattern, row["reason"], scope.split(":", 1)[1]))
        else:
            raise RuleError(f"boilerplate rule {row['rule_id']} in {table}: unknown scope {scope!r}")
    return RuleSet(tuple(line_rules), tuple(context_rules), tuple(html_drop))


def _classify(line: str, rules: RuleSet) -> LineRule | None:
    for rule in rules.line_rules:
        if rule.pattern.fullmatch(line):
            return rule
    return None


def _pieces_to_doc(
    doc: RawDocument, pieces: Sequence[tuple[str, int, int, bool]], rules: RuleSet, title: str | None
) -> CleanDocument:
    """Join kept pieces (text, raw_start, raw_end, exact) into clean_text, recording removals."""
    verdicts = [_classify(text, rules) for text, _, _, _ in pieces]
    for i, (text, _, _, _) in enumerate(pieces):
        if verdicts[i] is not None or i + 1 >= len(pieces) or verdicts[i + 1] is None:
            continue
        for rule in rules.context_rules:
            if rule.before == verdicts[i + 1].rule_id and rule.pattern.fullmatch(text):
                verdicts[i] = rule
                break
    out: list[str] = []
    segments: list[tuple[int, int, int, int]] = []
    removed: list[BoilerplateHit] = []
    pos = 0
    for (text, r0, r1, exact), rule in zip(pieces, verdicts, strict=True):
        if rule is not None:
            removed.append(BoilerplateHit(doc.doc_id, r0, r1, text, rule.rule_id, rule.reason))
            continue
        if out:
            out.append(PARAGRAPH_SEP)
            pos += len(PARAGRAPH_SEP)
        out.append(text)
        # an inexact piece (HTML text vs markup) maps as a whole: OffsetMap treats unequal lengths so
        segments.append((pos, pos + len(text), r0, r1 if exact or r1 - r0 != len(text) else r1 + 1))
        pos += len(text)
    return CleanDocument(doc, title, "".join(out), OffsetMap(tuple(segments)), tuple(removed))


def _text_pieces(raw: str) -> list[tuple[str, int, int, bool]]:
    pieces = []
    for m in _LINE.finditer(raw):
        line = m.group()
        stripped = line.strip()
        if not stripped:
            continue
        start = m.start() + (len(line) - len(line.lstrip()))
        pieces.append((stripped, start, start + len(stripped), True))
    return pieces


_WS = re.compile(r"\s+")


def _html_pieces(raw: str, rules: RuleSet) -> tuple[list[tuple[str, int, int, bool]], str | None]:
    soup = BeautifulSoup(raw, "lxml")
    title_tag = soup.find("title")
    title = _WS.sub(" ", title_tag.get_text()).strip() if title_tag else None
    for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()
    for _rule_id, selector, _reason in rules.html_drop:
        for el in soup.select(selector):
            el.decompose()
    if title_tag is not None:
        title_tag.decompose()
    body = soup.body or soup
    blocks = body.find_all(BLOCK_TAGS)
    pieces: list[tuple[str, int, int, bool]] = []
    cursor = 0
    seen: set[int] = set()
    for el in blocks:
        if any(id(p) in seen for p in el.parents):
            continue  # nested block (li inside a blockquote): its text is in the outer block
        seen.add(id(el))
        text = _WS.sub(" ", el.get_text(" ")).strip()
        if not text:
            continue
        # best-effort mapping to the markup: find the block's first text node after the cursor
        first = next((s.strip() for s in el.strings if s.strip()), text)
        at = raw.find(first, cursor)
        if at < 0:
            r0, r1, exact = cursor, cursor, False
        else:
            r0 = at
            last = [s.strip() for s in el.strings if s.strip()][-1]
            end_at = raw.find(last, at)
            r1 = end_at + len(last) if end_at >= 0 else at + len(first)
            exact = raw[r0:r1] == text
            cursor = r1
        pieces.append((text, r0, r1, exact))
    if not blocks:
        # markup without block elements: fall back to the text lines
        text = body.get_text("\n")
        pieces = [(t, 0, 0, False) for t, _, _, _ in _text_pieces(text)]
    return pieces, title


def clean_document(doc: RawDocument, settings: CleanSettings) -> CleanDocument:
    """Strip markup (HTML) and boilerplate lines from one document."""
    rules = load_rules(settings.boilerplate_rules)
    if doc.media_type == "html":
        pieces, title = _html_pieces(doc.raw_text, rules)
    else:
        pieces, title = _text_pieces(doc.raw_text), None
    cleaned = _pieces_to_doc(doc, pieces, rules, title)
    if cleaned.title is None and cleaned.clean_text:
        first = cleaned.clean_text.split(PARAGRAPH_SEP, 1)[0]
        if len(first) <= 200 and not first.rstrip().endswith((".", "!", '"', "”")):
            cleaned = CleanDocument(doc, first, cleaned.clean_text, cleaned.clean_to_raw, cleaned.removed)
    return cleaned


def clean_documents(docs: Iterable[RawDocument], settings: CleanSettings) -> list[CleanDocument]:
    """Batch form of clean_document."""
    return [clean_document(d, settings) for d in docs]
