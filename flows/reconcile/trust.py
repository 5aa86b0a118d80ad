"""Weigh sources: detect copies and spun copies, and give each document a trust weight.

Needs: each document's (repaired) text and its spin score from despinning, and ``ReconcileSettings``.
Adds: per-document trust weights for ``compare_groups`` and the ``CopyPair`` evidence behind them.

In the spirit of copy-aware truth discovery (Dong, Berti-Equille & Srivastava 2009; TruthFinder,
Yin et al. 2008): a source that copies another adds little independent support, so its vote is
discounted by how much it shares; a spun copy (synonym-swapped to hide copying) is discounted
further by its spin score. Copies are found with sampled word shingles (Broder's mod-p sampling of
w-shingles), counted through an inverted index, so only documents that share a shingle are compared.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from flows.reconcile.normalize import words
from flows.settings import ReconcileSettings


@dataclass(frozen=True)
class CopyPair:
    """Two documents sharing long passages; ``doc_a`` is the likely copy, ``doc_b`` its likely source."""

    doc_a: str
    doc_b: str
    shared_ratio: float  # share of the shorter text's sampled shingles found in the other text
    evidence: str


def _shingles(text: str, size: int, mod: int) -> dict[int, int]:
    """Sampled shingle hashes of a text -> word position of the first occurrence."""
    toks = words(text)
    out: dict[int, int] = {}
    for i in range(len(toks) - size + 1):
        h = zlib.crc32(" ".join(toks[i : i + size]).encode("utf-8"))
        if h % mod == 0 and h not in out:
            out[h] = i
    return out


def _example(text: str, positions: dict[int, int], shared: set[int], size: int) -> str:
    """The longest passage of ``text`` covered by shared shingles, as words."""
    toks = words(text)
    starts = sorted(positions[h] for h in shared)
    best_lo = best_hi = lo = hi = starts[0]
    for p in starts[1:]:
        # sampled shingles closer than a shingle apart belong to one passage
        if p - hi <= size:
            hi = p
        else:
            lo = hi = p
        if hi - lo > best_hi - best_lo:
            best_lo, best_hi = lo, hi
    span = " ".join(toks[best_lo : best_hi + size])
    return span if len(span) <= 160 else span[:159] + "…"


def source_trust(texts: Mapping[str, str], spin_scores: Mapping[str, float], settings: ReconcileSettings,
                 ) -> tuple[dict[str, float], list[CopyPair]]:
    """Trust weight per document (copies and spun copies count less) and the copy pairs found."""
    size, mod = settings.copy_shingle_words, max(settings.copy_sample_mod, 1)
    doc_ids = sorted(texts)
    shingles = {d: _shingles(texts[d], size, mod) for d in doc_ids}
    postings: dict[int, list[int]] = defaultdict(list)
    for n, d in enumerate(doc_ids):
        for h in shingles[d]:
            postings[h].append(n)
    shared_counts: Counter[tuple[int, int]] = Counter()
    for docs in postings.values():
        # a shingle in very many documents is boilerplate or a common phrase, not evidence of copying
        if 2 <= len(docs) <= settings.max_shingle_docs:
            for x in range(len(docs)):
                for y in range(x + 1, len(docs)):
                    shared_counts[(docs[x], docs[y])] += 1
    pairs: list[CopyPair] = []
    for (x, y), count in sorted(shared_counts.items()):
        a, b = doc_ids[x], doc_ids[y]
        smaller = min(len(shingles[a]), len(shingles[b]))
        if count < settings.copy_min_shared_shingles or smaller == 0:
            continue
        ratio = count / smaller
        sa, sb = spin_scores.get(a, 0.0), spin_scores.get(b, 0.0)
        spun = max(sa, sb) >= settings.spun_threshold
        need = settings.spun_copy_min_shared_ratio if spun else settings.copy_min_shared_ratio
        if ratio < need:
            continue
        # the spun or shorter text is taken as the copy: spinners rewrite someone else's article
        copy, source = (a, b) if (sa, -len(shingles[a]), b) > (sb, -len(shingles[b]), a) else (b, a)
        shared = set(shingles[a]) & set(shingles[b])
        example = _example(texts[copy], shingles[copy], shared, size)
        why = "spun copy" if spin_scores.get(copy, 0.0) >= settings.spun_threshold else "copy"
        evidence = (f"{why}: {count} of {smaller} sampled {size}-word shingles shared "
                    f"(spin {spin_scores.get(copy, 0.0):.2f} vs {spin_scores.get(source, 0.0):.2f}); e.g. '{example}'")
        pairs.append(CopyPair(copy, source, round(ratio, 4), evidence))
    trust: dict[str, float] = {}
    for d in doc_ids:
        trust[d] = 1.0 - settings.spin_penalty * min(max(spin_scores.get(d, 0.0), 0.0), 1.0)
    for p in pairs:
        factor = 1.0 - settings.copy_discount * min(p.shared_ratio, 1.0)
        trust[p.doc_a] = min(trust[p.doc_a], (1.0 - settings.spin_penalty * spin_scores.get(p.doc_a, 0.0)) * factor)
    trust = {d: round(max(settings.min_trust, min(1.0, t)), 4) for d, t in trust.items()}
    return trust, pairs
