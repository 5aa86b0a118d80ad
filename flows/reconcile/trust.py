"""Weigh sources: detect copies and spun copies, and give each document a trust weight.

Needs: each document's (repaired) text, or its shingles as made at load (``text_shingles``, kept in
the warehouse as ``encode_shingles`` writes them), its spin score from despinning, and ``ReconcileSettings``.
Adds: per-document trust weights for ``compare_groups`` and the ``CopyPair`` evidence behind them.

In the spirit of copy-aware truth discovery (Dong, Berti-Equille & Srivastava 2009; TruthFinder,
Yin et al. 2008): a source that copies another adds little independent support, so its vote is
discounted by how much it shares; a spun copy (synonym-swapped to hide copying) is discounted
further by its spin score. Copies are found with sampled word shingles (Broder's mod-p sampling of
w-shingles), counted through an inverted index, so only documents that share a shingle are compared.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from flows.reconcile.normalize import words
from flows.reconcile.pairs import block_pair_counts
from flows.settings import ReconcileSettings


@dataclass(frozen=True)
class CopyPair:
    """Two documents sharing long passages; ``doc_a`` is the likely copy, ``doc_b`` its likely source."""

    doc_a: str
    doc_b: str
    shared_ratio: float  # share of the shorter text's sampled shingles found in the other text
    evidence: str


def _shingles(toks: list[str], size: int, mod: int) -> tuple[np.ndarray, np.ndarray]:
    """Sampled shingle hashes of a word list and the word position of each one's first occurrence.

    Two small arrays per text rather than a dict of Python ints: reconcile holds them for every
    document of the warehouse at once (a dict cost about 40 KB per 5 KB article).
    """
    n = len(toks) - size + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int32)
    # each shingle's bytes are a slice of the words joined once, so hashing runs at C level without a
    # join and an encode per shingle (the same bytes as " ".join(toks[i : i + size]).encode()); words
    # hold no spaces, so the joining spaces mark where each word's bytes start and end
    data = " ".join(toks).encode("utf-8")
    spaces = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 32)
    starts = np.concatenate(([0], spaces + 1))[:n].tolist()
    ends = np.concatenate((spaces, [len(data)]))[size - 1 :].tolist()
    hashes = np.fromiter(map(zlib.crc32, map(data.__getitem__, map(slice, starts, ends))), dtype=np.uint32, count=n)
    pos = np.flatnonzero(hashes % mod == 0)
    # first occurrence of each sampled hash, in order of position (as a first-seen loop would keep)
    _, first = np.unique(hashes[pos], return_index=True)
    keep = pos[np.sort(first)]
    return hashes[keep], keep.astype(np.int32)  # word positions: 32 bits hold any text


_SEEN_LINES = 20_000  # distinct lines whose words a call keeps for reuse before it starts afresh


def _text_words(text: str, seen: dict[str, list[str]]) -> list[str]:
    """``words(text)``, each distinct line tokenised once: copies of one story repeat whole paragraphs.

    Exact: no word spans a line break, and lower-casing and apostrophe straightening act within a line.
    ``seen`` is emptied when it reaches _SEEN_LINES, so it cannot grow with the warehouse.
    """
    if len(seen) >= _SEEN_LINES:
        seen.clear()
    toks: list[str] = []
    for line in text.split("\n"):
        if (found := seen.get(line)) is None:
            found = seen[line] = words(line)
        toks.extend(found)
    return toks


def _example(toks: list[str], shared_positions: np.ndarray, size: int) -> str:
    """The longest passage of a text (as its words) covered by its shared shingles (their word positions)."""
    starts = np.sort(shared_positions).tolist()
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
    return copy_trust(texts.items(), lambda ids: {d: texts[d] for d in ids}, spin_scores, settings)


_EXAMPLE_TEXTS = 2_000  # texts fetched at a time to quote a copy pair's shared passage from


def shingle_settings(settings: ReconcileSettings) -> tuple[int, int]:
    """(words per shingle, sampling modulus) as copy detection uses them."""
    return settings.copy_shingle_words, max(settings.copy_sample_mod, 1)


def text_shingles(texts: Iterable[tuple[str, str]], settings: ReconcileSettings,
                  ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(doc_id, sampled shingle hashes, their word positions) of each (doc_id, text)."""
    size, mod = shingle_settings(settings)
    seen: dict[str, list[str]] = {}  # line -> its words, for this stream
    for d, t in texts:
        yield d, *_shingles(_text_words(t, seen), size, mod)


def encode_shingles(hashes: np.ndarray, positions: np.ndarray) -> tuple[bytes, bytes]:
    """A text's shingles as the warehouse stores them: little-endian 32-bit arrays."""
    return hashes.astype("<u4").tobytes(), positions.astype("<i4").tobytes()


def decode_shingles(hashes: bytes, positions: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``encode_shingles`` undone."""
    return (np.frombuffer(hashes, dtype="<u4").astype(np.uint32, copy=False),
            np.frombuffer(positions, dtype="<i4").astype(np.int32, copy=False))


def copy_trust(texts: Iterable[tuple[str, str]], texts_of: Callable[[Sequence[str]], Mapping[str, str]],
               spin_scores: Mapping[str, float], settings: ReconcileSettings,
               ) -> tuple[dict[str, float], list[CopyPair]]:
    """``source_trust`` over a stream of (doc_id, text), in any order, so no caller holds every text at once.

    Only each text's sampled shingles are kept; the texts of the copies, which the evidence quotes a
    shared passage from, are asked of ``texts_of`` a few thousand at a time once the pairs are known.
    """
    return shingle_trust(text_shingles(texts, settings), texts_of, spin_scores, settings)


def shingle_trust(shingled: Iterable[tuple[str, np.ndarray, np.ndarray]],
                  texts_of: Callable[[Sequence[str]], Mapping[str, str]],
                  spin_scores: Mapping[str, float], settings: ReconcileSettings,
                  ) -> tuple[dict[str, float], list[CopyPair]]:
    """``copy_trust`` from each document's shingles (``text_shingles``, or as stored at load) instead of its text."""
    size, _mod = shingle_settings(settings)
    shingles = {d: (h, p) for d, h, p in shingled}
    doc_ids = sorted(shingles)
    # postings as one array sorted by hash (stable, so each hash's documents stay in ascending order);
    # hashes stay 32-bit and document numbers too: 8.5M sampled shingles at 20,000 articles
    all_h = np.concatenate([shingles[d][0] for d in doc_ids] + [np.zeros(0, dtype=np.uint32)])
    all_d = np.repeat(np.arange(len(doc_ids), dtype=np.int32), [len(shingles[d][0]) for d in doc_ids])
    order = np.argsort(all_h, kind="stable")
    all_h, all_d = all_h[order], all_d[order]
    del order
    bounds = np.flatnonzero(np.diff(all_h)) + 1
    lo = np.concatenate(([0], bounds))
    hi = np.concatenate((bounds, [len(all_h)]))
    del all_h, bounds
    # a shingle in very many documents is boilerplate or a common phrase, not evidence of copying
    keep = (hi - lo >= 2) & (hi - lo <= settings.max_shingle_docs)
    # every pair of documents under each kept hash, as one int64 code x * n_docs + y (x < y), counted
    members = (hi - lo)[keep]
    n_docs = max(len(doc_ids), 1)
    codes, counts = block_pair_counts(members, lo[keep], members, all_d, n_docs)
    del all_d, lo, hi, keep, members
    enough = counts >= settings.copy_min_shared_shingles  # fewer is a shared phrase: skipped below anyway
    found: list[tuple[str, str, int, int, float]] = []  # copy, source, shared count, smaller, ratio
    for code, count in zip(codes[enough].tolist(), counts[enough].tolist(), strict=True):
        x, y = divmod(code, n_docs)
        a, b = doc_ids[x], doc_ids[y]
        smaller = min(len(shingles[a][0]), len(shingles[b][0]))
        if count < settings.copy_min_shared_shingles or smaller == 0:
            continue
        ratio = count / smaller
        sa, sb = spin_scores.get(a, 0.0), spin_scores.get(b, 0.0)
        spun = max(sa, sb) >= settings.spun_threshold
        need = settings.spun_copy_min_shared_ratio if spun else settings.copy_min_shared_ratio
        if ratio < need:
            continue
        # the spun or shorter text is taken as the copy: spinners rewrite someone else's article
        copy, source = (a, b) if (sa, -len(shingles[a][0]), b) > (sb, -len(shingles[b][0]), a) else (b, a)
        found.append((copy, source, count, smaller, ratio))
    del codes, counts, enough
    examples = _examples(found, shingles, texts_of, size)
    pairs: list[CopyPair] = []
    for (copy, source, count, smaller, ratio), example in zip(found, examples, strict=True):
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


def _examples(found: Sequence[tuple[str, str, int, int, float]], shingles: Mapping[str, tuple[np.ndarray, np.ndarray]],
              texts_of: Callable[[Sequence[str]], Mapping[str, str]], size: int) -> list[str]:
    """Each pair's longest shared passage, quoted from its copy; the copies' texts fetched a chunk at a time."""
    out = [""] * len(found)
    by_copy: dict[str, list[int]] = defaultdict(list)
    for k, (copy, *_rest) in enumerate(found):
        by_copy[copy].append(k)
    wanted = sorted(by_copy)
    seen: dict[str, list[str]] = {}
    for lo in range(0, len(wanted), _EXAMPLE_TEXTS):
        chunk = texts_of(wanted[lo : lo + _EXAMPLE_TEXTS])
        for copy, text in chunk.items():
            toks = _text_words(text, seen)
            for k in by_copy[copy]:
                source = found[k][1]
                # a text's sampled hashes are distinct (first occurrences): the indices come with the match
                hashes, positions = shingles[copy]
                _, at, _ = np.intersect1d(hashes, shingles[source][0], assume_unique=True, return_indices=True)
                out[k] = _example(toks, positions[at], size)
    return out
