"""Which clean reference texts a batch of spun documents is shipped for its repair.

Needs: the spun documents' texts and every clean text the warehouse holds (doc_id -> text), read once
to build the index; the index keeps tokens and ids, not the texts.
Adds: for each spun document the ``per_doc`` clean texts that share the most distinctive tokens with
it (names and numbers, weighted by inverse document frequency), so a repair aligns against the
articles about the same story instead of receiving the whole corpus (which grows with every run).
Spinners swap common words for synonyms but leave names and numbers, so those find the originals.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# capitalised words and numbers: what a word spinner leaves in place
_TOKEN = re.compile(r"\b[A-Z][a-zA-Z]{2,}\b|\b\d[\d,.]*\d\b|\b\d\b")


def _tokens(text: str) -> set[str]:
    return {t.lower() for t in _TOKEN.findall(text)}


class ReferenceIndex:
    """An inverted index of the distinctive tokens of the clean texts, scored in numpy.

    A query costs the sum of its tokens' posting lengths; on news about recurring names that sum
    grows with the corpus, so the postings are numpy arrays added up by ``bincount`` (C speed)
    instead of a Python loop per posting entry, which made reference selection quadratic in practice
    (1 s at 1,000 articles, 16 s at 5,000).
    """

    def __init__(self, texts: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """Index ``texts``: a mapping doc_id -> text, or (doc_id, text) pairs (read once, not kept)."""
        self.ids = []
        postings: dict[str, list[int]] = defaultdict(list)
        for i, (doc_id, text) in enumerate(texts.items() if isinstance(texts, Mapping) else texts):
            self.ids.append(doc_id)
            for tok in _tokens(text):
                postings[tok].append(i)
        n = max(len(self.ids), 1)
        self.postings = {tok: np.asarray(p, dtype=np.int64) for tok, p in postings.items()}
        self.idf = {tok: math.log(1 + n / len(p)) for tok, p in postings.items()}
        # ties are broken by id, as text: each id's place in sorted order
        self.id_rank = np.empty(len(self.ids), dtype=np.int64)
        self.id_rank[sorted(range(len(self.ids)), key=self.ids.__getitem__)] = np.arange(len(self.ids))

    def nearest(self, text: str, k: int, exclude: str | None = None) -> list[str]:
        """The ids of the k texts sharing the most distinctive tokens with ``text`` (best first)."""
        hits, weights = [], []
        # tokens in a fixed order: float sums in set order (which string hashing changes per process)
        # let near-ties rank differently from run to run
        for tok in sorted(_tokens(text)):
            posting = self.postings.get(tok)
            if posting is not None:
                hits.append(posting)
                weights.append(np.full(len(posting), self.idf[tok]))
        if not hits or k <= 0:
            return []
        # bincount adds each document's weights in token order, as the sum per posting entry did
        scores = np.bincount(np.concatenate(hits), weights=np.concatenate(weights), minlength=len(self.ids))
        found = np.flatnonzero(scores)
        if len(found) > k + 1:
            # everything scoring at least the (k+1)-th best, ties included, then an exact ordering
            cut = np.partition(scores[found], len(found) - (k + 1))[len(found) - (k + 1)]
            found = found[scores[found] >= cut]
        order = found[np.lexsort((self.id_rank[found], -scores[found]))]
        return [self.ids[i] for i in order.tolist() if self.ids[i] != exclude][:k]


def reference_ids(spun: Sequence[tuple[str, str]], index: ReferenceIndex, per_doc: int) -> list[str]:
    """The ids of the references for a batch of (doc_id, text) spun documents: the union of each one's
    ``per_doc`` nearest indexed texts, in the order first chosen, never a document of the batch."""
    own = {d for d, _ in spun}
    chosen: dict[str, None] = {}
    for doc_id, text in spun:
        for ref_id in index.nearest(text, per_doc, exclude=doc_id):
            if ref_id not in own:
                chosen[ref_id] = None
    return list(chosen)


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
    return [clean[d] for d in reference_ids(spun, index or ReferenceIndex(clean), per_doc)]
