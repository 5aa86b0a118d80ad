"""Sentences and paragraphs of a normalized text, with offsets.

Needs: a text (``RepairedDocument.normalized_text``).
Adds: paragraph and sentence spans (end exclusive) that every extractor uses as its unit, so a
claim's evidence and sentence are always slices of the same text. Abbreviations come from
``rules/extract/abbreviations.tsv``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from flows.rules import load_table

_PARA = re.compile(r"[^\n]+")
# a candidate end: terminal punctuation, closing quotes/brackets, then space and a plausible sentence opener
_END = re.compile(r"[.!?\u2026]+[\"\u201d\u2019')\]]*(?=\s+[\"\u201c\u2018'(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``text[start:end]``, inside paragraph number ``para``."""

    start: int
    end: int
    para: int


@dataclass(frozen=True)
class Layout:
    """Paragraphs and sentences of one text, with a fast offset -> sentence lookup."""

    paragraphs: tuple[tuple[int, int], ...]
    sentences: tuple[Sentence, ...]
    starts: tuple[int, ...]

    def sentence_at(self, pos: int) -> int:
        """Index of the sentence containing (or nearest before) offset ``pos``."""
        return max(bisect.bisect_right(self.starts, pos) - 1, 0)


@lru_cache(maxsize=1)
def _abbreviations() -> frozenset[str]:
    return frozenset(r["abbreviation"].rstrip(".").lower() for r in load_table("extract/abbreviations.tsv", ("abbreviation", "source", "example")))


def is_abbreviation(word: str) -> bool:
    """True when a word ending in a period is an initial, a dotted acronym or a known abbreviation."""
    bare = word.rstrip(".")
    return len(bare) == 1 or "." in bare or bare.lower() in _abbreviations()


def _is_abbreviation(text: str, dot: int) -> bool:
    m = _LAST_WORD.search(text, max(0, dot - 12), dot + 1)
    if not m:
        return False
    word = m.group(1).rstrip(".")
    # single initials ("B.J.", "J. Smith") and dotted acronyms ("U.S.") do not end sentences
    return len(word) == 1 or "." in word or word.lower() in _abbreviations()


def split_paragraphs(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of the non-blank lines of ``text`` (each line break starts a new paragraph)."""
    out = []
    for m in _PARA.finditer(text):
        a, b = m.span()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return tuple(out)


def split_sentences(text: str) -> Layout:
    """Paragraphs and sentences of ``text``; sentence ends skip abbreviations and initials."""
    paragraphs = split_paragraphs(text)
    sentences = []
    for p, (a, b) in enumerate(paragraphs):
        start = a
        for m in _END.finditer(text, a, b):
            punct_end = m.start() + len(m.group(0).rstrip("\"\u201d\u2019')]"))
            if text[punct_end - 1] == "." and _is_abbreviation(text, punct_end - 1):
                continue
            end = m.end()
            if end > start:
                sentences.append(Sentence(start, end, p))
            start = end
            while start < b and text[start].isspace():
                start += 1
        if b > start:
            sentences.append(Sentence(start, b, p))
    return Layout(paragraphs, tuple(sentences), tuple(s.start for s in sentences))
