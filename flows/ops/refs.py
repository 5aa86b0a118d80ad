"""Which clean reference texts a batch of spun documents is shipped for its repair.

Needs: the spun documents' texts and every clean text the warehouse holds (doc_id -> text).
Adds: for each spun document the ``per_doc`` clean texts that share the most distinctive tokens with
it (names and numbers, weighted by inverse document frequency), so a repair aligns against the
articles about the same story instead of receiving the whole corpus (which grows with every run).
Spinners swap common words for synonyms but leave names and numbers, so those find the originals.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

# capitalised words and numbers: what a word spinner leaves in place
_TOKEN = re.compile(r"\b[A-Z][a-zA-Z]{2,}\b|\b\d[\d,.]*\d\b|\b\d\b")


def _tokens(text: str) -> set[str]:
    return {t.lower() for t in _TOKEN.findall(text)}


class ReferenceIndex:
    """An inverted index of the distinctive tokens of the clean texts."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.ids = list(texts)
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, doc_id in enumerate(self.ids):
            for tok in _tokens(texts[doc_id]):
                self.postings[tok].append(i)
        n = max(len(self.ids), 1)
        self.idf = {tok: math.log(1 + n / len(p)) for tok, p in self.postings.items()}

    def nearest(self, text: str, k: int, exclude: str | None = None) -> list[str]:
        """The ids of the k texts sharing the most distinctive tokens with ``text`` (best first)."""
        scores: dict[int, float] = defaultdict(float)
        for tok in _tokens(text):
            posting = self.postings.get(tok)
            if posting is None:
                continue
            w = self.idf[tok]
            for i in posting:
                scores[i] += w
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self.ids[kv[0]]))
        return [self.ids[i] for i, _ in ranked if self.ids[i] != exclude][:k]


def select_references(
    spun: Sequence[tuple[str, str]], clean: Mapping[str, str], per_doc: int, index: ReferenceIndex | None = None
) -> list[str]:
    """Reference texts for a batch of (doc_id, text) spun documents: the union of each one's nearest clean texts.

    ``per_doc`` <= 0 ships every clean text (the exhaustive, slow behaviour); pass ``index`` (built
    over ``clean``) to reuse it across batches.
    """
    own = {d for d, _ in spun}
    if per_doc <= 0 or len(clean) <= per_doc:
        return [t for d, t in clean.items() if d not in own]
    index = index or ReferenceIndex(clean)
    chosen: dict[str, None] = {}
    for doc_id, text in spun:
        for ref_id in index.nearest(text, per_doc, exclude=doc_id):
            if ref_id not in own:
                chosen[ref_id] = None
    return [clean[d] for d in chosen]
