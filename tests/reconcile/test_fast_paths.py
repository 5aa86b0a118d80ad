"""The vectorised and memoised paths of reconcile give what the plain per-item definitions give."""

from __future__ import annotations

import zlib
from collections import Counter
from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.reconcile.group import _pair_codes
from flows.reconcile.normalize import aligned_quote_words, load_lexicon, words
from flows.reconcile.trust import _shingles, _text_words
from flows.settings import ReconcileSettings

SETTINGS = ReconcileSettings()
# words, accented and Greek letters, apostrophes of both kinds, underscores and line breaks
TEXT = st.text(alphabet="ab cd’'_\n-éΣς.ü1", max_size=120)


def _plain_shingles(toks: list[str], size: int, mod: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for i in range(len(toks) - size + 1):
        h = zlib.crc32(" ".join(toks[i : i + size]).encode("utf-8"))
        if h % mod == 0 and h not in out:
            out[h] = i
    return out


@settings(max_examples=300, deadline=None)
@given(TEXT, st.integers(1, 4), st.integers(1, 3))
def test_shingles_match_a_join_per_shingle(text: str, size: int, mod: int) -> None:
    toks = words(text)
    hashes, positions = _shingles(toks, size, mod)
    got = dict(zip(hashes.tolist(), positions.tolist(), strict=True))
    want = _plain_shingles(toks, size, mod)
    assert len(got) == len(hashes)  # each sampled hash once
    assert got == want and list(got) == list(want)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, max_size=4))
def test_words_per_line_match_words_of_the_text(texts: list[str]) -> None:
    seen: dict[str, list[str]] = {}
    for text in texts + texts:  # the second round is served from the memo
        assert _text_words(text, seen) == words(text)


def _plain_pairs(blocks: list[list[int]], limit: int, pivots: int, min_count: int) -> list[tuple[int, int]]:
    counts: Counter[tuple[int, int]] = Counter()
    for block in blocks:
        if len(block) < 2:
            continue
        heads = len(block) if len(block) <= limit else pivots
        for x, y in combinations(range(len(block)), 2):
            if x < heads:
                counts[(min(block[x], block[y]), max(block[x], block[y]))] += 1
    return sorted(p for p, n in counts.items() if n >= min_count)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=12, unique=True), max_size=8),
       st.integers(2, 6), st.integers(1, 4), st.integers(1, 3))
def test_pair_codes_match_all_pairs_with_pivots(blocks: list[list[int]], limit: int, pivots: int,
                                                 min_count: int) -> None:
    codes = _pair_codes(blocks, limit, pivots, 31, min_count)
    assert [(int(c) // 31, int(c) % 31) for c in codes] == _plain_pairs(blocks, limit, pivots, min_count)
    assert np.all(np.diff(codes) > 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=12, unique=True), max_size=8),
       st.integers(2, 6), st.integers(1, 4), st.integers(1, 3), st.integers(1, 20))
def test_pair_codes_made_a_slice_of_blocks_at_a_time_are_the_same(blocks, limit, pivots, min_count, per_slice):
    """Counting the pairs of a few blocks at a time (bounded memory) sums to the same shared-key counts."""
    import flows.reconcile.pairs as pairs

    whole = _pair_codes(blocks, limit, pivots, 31, min_count)
    before = pairs._PAIRS_PER_SLICE
    pairs._PAIRS_PER_SLICE = per_slice
    try:
        sliced = _pair_codes(blocks, limit, pivots, 31, min_count)
    finally:
        pairs._PAIRS_PER_SLICE = before
    assert sliced.tolist() == whole.tolist()


def test_aligned_words_fast_path_maps_one_to_one() -> None:
    lex = load_lexicon(SETTINGS)
    raw = [w for w in words("the minister said the plan stands") if w not in lex.paraphrases]
    canon, index = aligned_quote_words(raw, lex)
    assert canon == tuple(lex.spelling.get(w, w) for w in raw) and index == tuple(range(len(raw)))


def test_pair_codes_of_32_bit_members_do_not_overflow() -> None:
    """Members given as int32 (copy detection's document numbers) still make 64-bit codes min * width + max."""
    from flows.reconcile.pairs import block_pair_counts

    width = 100_000  # 99,999 * 100,000 is past 2**31
    post = np.asarray([99_998, 99_999], dtype=np.int32)
    size = np.asarray([2])
    codes, counts = block_pair_counts(size, np.asarray([0]), size, post, width)
    assert codes.tolist() == [99_998 * width + 99_999] and counts.tolist() == [1]


def _plain_score(a, b, s: ReconcileSettings) -> float:
    small = min(len(a.content), len(b.content))
    shared = len(a.content & b.content)
    same = bool(a.speaker) and a.speaker == b.speaker
    need = min(s.quote_min_shared_words, small) if same else s.cross_speaker_min_shared_words
    ratio = s.quote_match_threshold if same else s.cross_speaker_threshold
    score = shared / small if small else 0.0
    return score if small >= s.quote_min_content_words and shared >= need and score >= ratio else 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "ann", "bo"]), st.frozensets(st.sampled_from("abcdefgh"), max_size=7)),
                min_size=2, max_size=9),
       st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=30), st.integers(1, 6))
def test_pair_scores_scored_a_chunk_at_a_time_match_the_plain_definition(quotes, pairs, chunk) -> None:
    """Scoring pairs a chunk at a time (bounded memory) gives each pair the score the plain definition gives."""
    import flows.reconcile.group as group

    qs = [group._Quote(None, speaker, (), content, frozenset()) for speaker, content in quotes]
    pairs = [(i % len(qs), j % len(qs)) for i, j in pairs]
    first = np.asarray([i for i, _ in pairs], dtype=np.int32)
    second = np.asarray([j for _, j in pairs], dtype=np.int32)
    before = group._SCORE_CHUNK
    group._SCORE_CHUNK = chunk
    try:
        got = group._pair_scores(qs, first, second, SETTINGS)
    finally:
        group._SCORE_CHUNK = before
    assert got.tolist() == [_plain_score(qs[i], qs[j], SETTINGS) for i, j in pairs]
