"""Cross-source alignment: take clean wording from another source that copies the same passage.

Needs: the tokens of a spun document and clean reference texts (other sources of the story).
Adds: replacement proposals where a passage of the spun text aligns with a reference passage
(quotes are copied verbatim between outlets) and a short run of words differs between two
equal flanks, plus the single-word substitutions those alignments teach (garbled -> clean, with
the neighbouring word) so the same swap can be undone elsewhere in the document.
Candidate passages are found by blocking on shared word n-grams, so difflib only ever compares
short windows.
"""

from __future__ import annotations

import sys
from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from operator import attrgetter
from typing import NamedTuple

from flows.despin.detect import Token, tokenize
from flows.settings import DespinSettings

_LOWER, _START, _END = attrgetter("lower"), attrgetter("start"), attrgetter("end")


class _Analysis(NamedTuple):
    """What repair reads of a reference text: its words, their offsets and its capitalised runs."""

    low: tuple[str, ...]  # lower forms of the word tokens
    starts: array  # character offsets of the word tokens
    ends: array
    runs: tuple[tuple[str, str, str], ...]  # two-word capitalised runs: (first lower, first, last), in order
    long_runs: frozenset[tuple[str, ...]]  # capitalised runs of three words or more


def _analyse(toks: Sequence[Token]) -> _Analysis:
    words = [t for t in toks if t.is_word]
    runs: list[tuple[str, str, str]] = []
    long: set[tuple[str, ...]] = set()
    run: list[Token] = []
    for t in [*words, None]:
        cap = t is not None and t.text[:1].isupper() and not t.text.isupper()
        if cap and run and t.start - run[-1].end == 1:  # type: ignore[union-attr]
            run.append(t)  # type: ignore[arg-type]
            continue
        if len(run) == 2:
            runs.append((run[0].lower, run[0].text, run[1].text))
        elif len(run) >= 3:
            long.add(tuple(x.text for x in run))
        run = [t] if cap else []  # type: ignore[list-item]
    # interned: the same words recur across references, so the cache holds each once
    low = tuple(map(sys.intern, map(_LOWER, words)))
    return _Analysis(low, array("l", map(_START, words)), array("l", map(_END, words)), tuple(runs), frozenset(long))


# Reference texts are analysed once per process, not once per batch: a clean text is shipped as a
# reference with batch after batch, and pool workers live for the whole run. Keyed by the text
# itself (equal texts have equal analyses) and bounded by DespinSettings.reference_cache_size,
# least recently used out first.
_CACHE: OrderedDict[str, _Analysis] = OrderedDict()


def _cached(text: str, size: int) -> _Analysis:
    got = _CACHE.get(text)
    if got is not None:
        _CACHE.move_to_end(text)
        return got
    got = _analyse(tokenize(text)[0])
    _CACHE[text] = got
    while len(_CACHE) > size:
        _CACHE.popitem(last=False)
    return got


@dataclass(frozen=True)
class Reference:
    """A clean text used as evidence, tokenized once: its words, their offsets and capitalised runs."""

    ref_id: str
    text: str
    low: tuple[str, ...]  # lower forms of the word tokens
    starts: array  # character offsets of the word tokens
    ends: array
    runs: tuple[tuple[str, str, str], ...]  # two-word capitalised runs (first lower, first, last), in order
    long_runs: frozenset[tuple[str, ...]]  # capitalised runs of three words or more

    @staticmethod
    def of(ref_id: str, text: str, toks: Sequence[Token] | None = None, cache_size: int = 0) -> Reference:
        """A reference from a text, or from its tokens when the caller has them already; a text's
        analysis is kept for the next call when ``cache_size`` > 0."""
        if toks is not None:
            a = _analyse(toks)
        elif cache_size > 0:
            a = _cached(text, cache_size)
        else:
            a = _analyse(tokenize(text)[0])
        return Reference(ref_id, text, *a)


class ReferenceIndex:
    """Word n-grams of all references of a batch, built once and shared by every document."""

    @staticmethod
    def grams(tokens: Sequence[Token], n: int) -> set[tuple[str, ...]]:
        """The word n-grams of a token list (what ``wanted`` takes)."""
        low = tuple(t.lower for t in tokens if t.is_word)
        return {low[p : p + n] for p in range(len(low) - n + 1)}

    def __init__(
        self, refs: Sequence[Reference], n: int, max_df: int, wanted: set[tuple[str, ...]] | None = None
    ) -> None:
        """Index the references' word n-grams; with ``wanted`` (the n-grams of the documents to be
        aligned) only those, which is all a lookup can hit and far fewer."""
        self.refs = list(refs)
        self.n = n
        index: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
        for r, ref in enumerate(self.refs):
            grams = zip(*(ref.low[k:] for k in range(n)), strict=False)  # the n-gram at each position, built in C
            for p, gram in enumerate(grams):
                if wanted is None or gram in wanted:
                    index[gram].append((r, p))
        # an n-gram in many references is too common to say that a passage was copied
        self.index = {g: hits for g, hits in index.items() if len(hits) <= max_df or len({r for r, _ in hits}) <= max_df}


@dataclass(frozen=True)
class AlignedEdit:
    """Replace doc tokens ``[i, j)`` (indexes into the doc's token list) with a reference's wording."""

    i: int
    j: int
    start: int
    end: int
    replacement: str
    ref_id: str
    ref_start: int
    ref_end: int
    ratio: float


@dataclass(frozen=True)
class LearnedSub:
    """A one-word swap seen in an alignment, with the word that followed it there."""

    garbled: str
    replacement: str
    next_word: str
    ref_id: str


def _squeeze(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def _passages(tokens: Sequence[Token], words: list[int], quotes_only: bool, min_len: int) -> list[tuple[int, int]]:
    """Runs of word positions (into ``words``) that form one quotation, or one sentence."""
    out = []
    start = 0
    for w in range(1, len(words) + 1):
        if w < len(words):
            a, b = tokens[words[w - 1]], tokens[words[w]]
            same = a.in_quote == b.in_quote and a.sentence == b.sentence if not quotes_only else a.in_quote == b.in_quote
            # a quotation ends where any quote mark stands between two words
            if same and quotes_only and any(not tokens[k].is_word and tokens[k].text in "\"“”" for k in range(words[w - 1], words[w])):
                same = False
            if same:
                continue
        if w - start >= min_len and (not quotes_only or tokens[words[start]].in_quote):
            out.append((start, w))
        start = w
    return out


def align(
    tokens: Sequence[Token], refs: ReferenceIndex, settings: DespinSettings, exclude: str = ""
) -> tuple[list[AlignedEdit], list[LearnedSub]]:
    """Replacement proposals from reference passages that align with the document, and what they teach.

    ``exclude`` names a reference that is the document itself (never evidence for its own repair).
    """
    if not refs.refs:
        return [], []
    words = [k for k, t in enumerate(tokens) if t.is_word]
    low = [tokens[k].lower for k in words]
    n = refs.n
    index = refs.index
    edits: dict[tuple[int, int], AlignedEdit] = {}
    learned: list[LearnedSub] = []
    slack = settings.align_slack
    for p0, p1 in _passages(tokens, words, settings.align_quotes_only, settings.align_min_passage):
        # block: references sharing an n-gram with this passage, at the offset the n-gram implies
        starts: dict[tuple[int, int], int] = {}
        for p in range(p0, p1 - n + 1):
            for r, q in index.get(tuple(low[p : p + n]), ()):
                starts.setdefault((r, q - (p - p0)), p)
        for (r, q0), _p in starts.items():
            ref = refs.refs[r]
            if ref.ref_id == exclude:
                continue
            rlow = ref.low
            b0, b1 = max(0, q0 - slack), min(len(rlow), q0 + (p1 - p0) + slack)
            sm = SequenceMatcher(None, low[p0:p1], rlow[b0:b1], autojunk=False)
            matched = sum(b.size for b in sm.get_matching_blocks())
            ratio = matched / (p1 - p0)
            if ratio < settings.align_min_ratio:
                continue  # the reference words this passage differently: not a copy
            ops = sm.get_opcodes()
            for k, (tag, i1, i2, j1, j2) in enumerate(ops):
                if tag != "replace":
                    continue
                if not (0 < i2 - i1 <= settings.align_max_span and 0 < j2 - j1 <= settings.align_max_span):
                    continue
                before = ops[k - 1] if k > 0 else None
                after = ops[k + 1] if k + 1 < len(ops) else None
                flank = settings.align_min_flank
                if not (before and before[0] == "equal" and before[2] - before[1] >= flank):
                    continue
                if not (after and after[0] == "equal" and after[2] - after[1] >= flank):
                    continue
                di, dj = words[p0 + i1], words[p0 + i2 - 1] + 1
                rs, re_ = ref.starts[b0 + j1], ref.ends[b0 + j2 - 1]
                garbled_text = " ".join(low[p0 + i1 : p0 + i2])
                replacement = ref.text[rs:re_]
                if SequenceMatcher(None, _squeeze(garbled_text), _squeeze(replacement)).ratio() >= settings.align_variant_ratio:
                    continue  # spelling or spacing variant ("favourite", "onscreen" / "on screen"), not a swap
                if (di, dj) not in edits or edits[(di, dj)].ratio < ratio:
                    edits[(di, dj)] = AlignedEdit(
                        di, dj, tokens[di].start, tokens[dj - 1].end, replacement, ref.ref_id, rs, re_, round(ratio, 3)
                    )
                if i2 - i1 == 1 and j2 - j1 == 1 and p0 + i2 < len(low):
                    learned.append(LearnedSub(low[p0 + i1], rlow[b0 + j1], low[p0 + i2], ref.ref_id))
    return sorted(edits.values(), key=lambda e: e.start), learned
