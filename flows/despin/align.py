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

import bisect
import operator
import re
import sys
import threading
from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import compress
from operator import attrgetter, itemgetter
from typing import NamedTuple

from flows.despin.detect import Token, tokenize
from flows.settings import DespinSettings

_LOWER, _START, _END, _TEXT = attrgetter("lower"), attrgetter("start"), attrgetter("end"), attrgetter("text")
_FIRST = itemgetter(0)
_QUOTE_MARKS = frozenset("\"“”")


class _Analysis(NamedTuple):
    """What repair reads of a reference text: its words, their offsets and its capitalised runs."""

    low: tuple[str, ...]  # lower forms of the word tokens
    starts: array  # character offsets of the word tokens
    ends: array
    runs: tuple[tuple[str, str, str], ...]  # two-word capitalised runs: (first lower, first, last), in order
    long_runs: frozenset[tuple[str, ...]]  # capitalised runs of three words or more
    lower_words: tuple[str, ...]  # the words the text writes all lower-case, once each


_LOWER_WORD = re.compile(r"(?<![\w'’-])[^\W\d_A-Z]+(?![\w'’-])")


def _analyse(text: str, toks: Sequence[Token]) -> _Analysis:
    words = [t for t in toks if t.is_word]
    runs, long = capitalised_runs(words)
    # interned: the same words recur across references, so the cache holds each once
    low = tuple(map(sys.intern, map(_LOWER, words)))
    lower_words = tuple(dict.fromkeys(map(sys.intern, filter(str.islower, _LOWER_WORD.findall(text)))))
    return _Analysis(low, array("l", map(_START, words)), array("l", map(_END, words)), runs, long, lower_words)


def capitalised_runs(words: Sequence[Token]) -> tuple[tuple[tuple[str, str, str], ...], frozenset[tuple[str, ...]]]:
    """Runs of capitalised words one space apart in a text's word tokens: the two-word ones as
    (first lower, first, last) in order, and the set of longer ones."""
    runs: list[tuple[str, str, str]] = []
    long: set[tuple[str, ...]] = set()

    def close(run: list[Token]) -> None:
        if len(run) == 2:
            runs.append((run[0].lower, run[0].text, run[1].text))
        elif len(run) >= 3:
            long.add(tuple(x.text for x in run))

    # capitalised, not all capitals ("Maria", not "NBC"): first letter upper and not the whole word
    texts = list(map(_TEXT, words))
    caps = map(operator.gt, map(str.isupper, map(_FIRST, texts)), map(str.isupper, texts))
    run: list[Token] = []
    last = -2
    for i in compress(range(len(words)), caps):
        t = words[i]
        if run and i == last + 1 and t.start - run[-1].end == 1:
            run.append(t)  # the next word, capitalised, one space on
        else:
            close(run)
            run = [t]
        last = i
    close(run)
    return tuple(runs), frozenset(long)


# Reference texts are analysed once per process, not once per batch: a clean text is shipped as a
# reference with batch after batch, and pool workers live for the whole run. Keyed by the text
# itself (equal texts have equal analyses) and bounded by DespinSettings.reference_cache_size,
# least recently used out first.
# The lock: an in-process run repairs batches from several threads, and an entry another thread
# evicts between a lookup and its move_to_end would raise.
_CACHE: OrderedDict[str, _Analysis] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _cached(text: str, size: int) -> _Analysis:
    with _CACHE_LOCK:
        got = _CACHE.get(text)
        if got is not None:
            _CACHE.move_to_end(text)
            return got
    got = _analyse(text, tokenize(text)[0])  # outside the lock: the slow part
    with _CACHE_LOCK:
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
    lower_words: tuple[str, ...]  # the words the text writes all lower-case, once each

    @staticmethod
    def of(ref_id: str, text: str, toks: Sequence[Token] | None = None, cache_size: int = 0) -> Reference:
        """A reference from a text, or from its tokens when the caller has them already; a text's
        analysis is kept for the next call when ``cache_size`` > 0."""
        if toks is not None:
            a = _analyse(text, toks)
        elif cache_size > 0:
            a = _cached(text, cache_size)
        else:
            a = _analyse(text, tokenize(text)[0])
        return Reference(ref_id, text, *a)


def _ngrams(low: tuple[str, ...], n: int) -> list[tuple[str, ...]]:
    """The word n-gram at each position of ``low``."""
    if n < 1:
        return [low[p : p + n] for p in range(len(low) - n + 1)]
    return list(zip(*(low[k:] for k in range(n)), strict=False))  # built in C


class ReferenceIndex:
    """Word n-grams of all references of a batch, built once and shared by every document."""

    def __init__(
        self, refs: Sequence[Reference], n: int, max_df: int, wanted: set[tuple[str, ...]] | None = None
    ) -> None:
        """Index the references' word n-grams; with ``wanted`` (the ``passage_grams`` of the documents
        to be aligned) only those, which is all a lookup can hit and far fewer."""
        self.refs = list(refs)
        self.n = n
        index: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
        for r, ref in enumerate(self.refs):
            grams = _ngrams(ref.low, n)
            at = range(len(grams)) if wanted is None else compress(range(len(grams)), map(wanted.__contains__, grams))
            for p in at:
                index[grams[p]].append((r, p))
        # an n-gram in many references is too common to say that a passage was copied
        self.index = {g: hits for g, hits in index.items() if len(hits) <= max_df or len({r for r, _ in hits}) <= max_df}


class AlignedEdit(NamedTuple):
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


class LearnedSub(NamedTuple):
    """A one-word swap seen in an alignment, with the word that followed it there."""

    garbled: str
    replacement: str
    next_word: str
    ref_id: str


def _squeeze(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def _passages(tokens: Sequence[Token], words: list[int], quotes_only: bool, min_len: int) -> list[tuple[int, int]]:
    """Runs of word positions (into ``words``) that form one quotation, or one sentence."""
    n = len(words)
    if not n:
        return []
    quoted = [tokens[k].in_quote for k in words]
    # word positions w where a passage ends before word w: the quotation state changes ...
    ends = set(compress(range(1, n), map(operator.ne, quoted, quoted[1:])))
    if quotes_only:
        # ... or a quote mark stands between words w - 1 and w (a quotation ends there)
        for q in compress(range(len(tokens)), map(_QUOTE_MARKS.__contains__, map(_TEXT, tokens))):
            w = bisect.bisect_right(words, q)
            if 0 < w < n:
                ends.add(w)
    else:
        # ... or a sentence ends
        sent = [tokens[k].sentence for k in words]
        ends.update(compress(range(1, n), map(operator.ne, sent, sent[1:])))
    out = []
    start = 0
    for w in [*sorted(ends), n]:
        if w - start >= min_len and (not quotes_only or quoted[start]):
            out.append((start, w))
        start = w
    return out


def passage_grams(tokens: Sequence[Token], settings: DespinSettings) -> set[tuple[str, ...]]:
    """The word n-grams ``align`` can look up for a document (those inside its passages): what
    ``ReferenceIndex`` takes as ``wanted``."""
    words = [k for k, t in enumerate(tokens) if t.is_word]
    low = tuple(tokens[k].lower for k in words)
    out: set[tuple[str, ...]] = set()
    for p0, p1 in _passages(tokens, words, settings.align_quotes_only, settings.align_min_passage):
        out.update(_ngrams(low[p0:p1], settings.align_ngram))
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
