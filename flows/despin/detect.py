"""Spin detection: how likely a text is article-spinner output, per sentence and per document.

Needs: a text (a CleanDocument's clean_text) and DespinSettings. Adds: a document spin score in
[0, 1] and one SentenceSpin per sentence naming the signals that fired: spinner signature n-grams
and context-matched swaps from the substitution table (flows/rules/despin/substitutions.tsv),
non-words, case slips (a name written lower-case mid-sentence) and apostrophes turned into
double quotes. The tokenizer, the table and its condition matcher live here because repair
reuses them.
"""

from __future__ import annotations

import bisect
import math
import operator
import re
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import accumulate, compress, repeat
from operator import itemgetter
from typing import NamedTuple

from wordfreq import zipf_frequency

from flows import records
from flows.errors import RuleError
from flows.rules import load_table as load_rule_table
from flows.settings import DespinSettings

_TOKEN = re.compile(r"~|[^\W_]+(?:[-'’\"][^\W_]+)*|[^\w\s]", re.UNICODE)
_TOKEN_SPLIT = re.compile(f"({_TOKEN.pattern})", re.UNICODE)
_TEXT, _LOWER, _IS_WORD, _FIRST_CHAR = itemgetter(2), itemgetter(3), itemgetter(4), itemgetter(0)
_SENT_START = itemgetter(0)  # Sentence.start
_QUOTE_CHARS = "\"“”"
_QUOTE_SET = frozenset(_QUOTE_CHARS)
_APOS = str.maketrans({"’": "'", '"': "'"})
# An apostrophe the spinner wrote as a double quote: a letter, the quote, a contraction ending.
# The quote comes first in the pattern so the regex engine scans for it instead of trying the
# lookbehind at every character; the lookbehind then checks the letter before it.
APOSTROPHE_DAMAGE = re.compile(r"\"(?<=[^\W\d_]\")(?=(?:s|t|re|ve|ll|d|m)\b)")
_SENT_END = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s)|\n+")


class Token(NamedTuple):
    """A token of a text: ``lower`` has curly and damaged apostrophes folded to "'".

    A named tuple, not a dataclass: tokenizing builds one per word of every document and tuple
    construction is several times cheaper.
    """

    start: int
    end: int
    text: str
    lower: str
    is_word: bool
    sentence: int
    in_quote: bool


class Sentence(NamedTuple):
    start: int
    end: int
    first_token: int
    last_token: int  # exclusive


def tokenize(text: str) -> tuple[list[Token], list[Sentence]]:
    """Split text into tokens and sentences; track whether each token sits inside a quotation."""
    # Built column by column with C-level splits and maps (no Python loop per token): scoring
    # tokenizes every document of a batch, and this is most of its cost.
    pieces = _TOKEN_SPLIT.split(text)
    texts = pieces[1::2]
    cum = list(accumulate(map(len, pieces)))
    starts, ends = cum[0::2][: len(texts)], cum[1::2]
    low = text.lower().replace("’", "'").replace('"', "'")  # _APOS, as two C-level replaces
    if len(low) == len(text):
        lows = list(map(low.__getitem__, map(slice, starts, ends)))
    else:  # lower-casing changed the length (a dotted capital I): fold token by token
        lows = [t.lower().translate(_APOS) for t in texts]
    is_word = list(map(str.isalnum, map(itemgetter(0), texts)))
    if "~" in text:
        for k in list(compress(range(len(texts)), map("~".__eq__, texts))):
            is_word[k] = True
    bounds = [m.end() for m in _SENT_END.finditer(text)]
    # bounds after the last token close nothing
    bounds = bounds[: bisect.bisect_right(bounds, starts[-1])] if texts else []
    sent_of = list(map(partial(bisect.bisect_right, bounds), starts))
    sentences: list[Sentence] = []
    first = 0
    resets = []  # token indexes where a paragraph ends a quotation
    for n, b in enumerate(bounds):
        last = bisect.bisect_left(starts, b, first)
        sentences.append(Sentence(bounds[n - 1] if n else 0, b, first, last))
        if text[b - 1] == "\n":
            resets.append(last)  # quotations do not run across paragraphs in these texts
        first = last
    sentences.append(Sentence(bounds[-1] if bounds else 0, len(text), first, len(texts)))
    quoted = _quote_flags(text, texts, starts, resets)
    tokens = list(map(tuple.__new__, repeat(Token), zip(starts, ends, texts, lows, is_word, sent_of, quoted, strict=True)))
    return tokens, sentences


def _quote_flags(text: str, texts: list[str], starts: list[int], resets: list[int]) -> list[bool]:
    """Whether each token sits inside a quotation; the state changes only at quote marks and resets."""
    quoted = [False] * len(texts)
    if not any(q in text for q in _QUOTE_CHARS):
        return quoted
    marks = list(compress(range(len(texts)), map(_QUOTE_SET.__contains__, texts)))
    # a reset applies before the quote mark at the same token
    events = sorted([(k, 0) for k in resets] + [(k, 1) for k in marks])
    in_quote, since = False, 0
    for k, kind in events:
        if in_quote:
            quoted[since:k] = [True] * (k - since)
        if kind == 0:
            in_quote = False
        else:
            c = texts[k]
            if c == "“":
                in_quote = True
            elif c == "”":
                in_quote = False
            else:
                before = text[starts[k] - 1] if starts[k] else " "
                in_quote = before.isspace() or before in "([—-" if not in_quote else False
        since = k
    if in_quote:
        quoted[since:] = [True] * (len(texts) - since)
    return quoted


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """Zipf frequency of a word in English (wordfreq), cached."""
    return zipf_frequency(word, "en")


# ---------------------------------------------------------------------------------------------
# word classes and conditions


def _has_suffix(word: str, suffix: str) -> bool:
    if not (word.endswith(suffix) and len(word) > len(suffix) + 2):
        return False
    # "-s" stands for a plural: "kiss", "status", "analysis" are not plurals
    return suffix != "s" or not word.endswith(("ss", "us", "is"))


@dataclass(frozen=True)
class WordSet:
    """A set of words given in a condition: literals, @CLASS members, suffixes and shape tests."""

    words: frozenset[str]
    suffixes: tuple[str, ...] = ()
    cap: bool = False
    num: bool = False
    punct: bool = False

    def has(self, tok: Token | None) -> bool:
        if tok is None:
            return self.punct
        if not tok.is_word:
            return self.punct or tok.lower in self.words
        if tok.lower in self.words:
            return True
        if self.cap and tok.text[0].isupper():
            return True
        if self.num and tok.text[0].isdigit():
            return True
        return any(_has_suffix(tok.lower, s) for s in self.suffixes)


@dataclass(frozen=True)
class Clause:
    key: str  # prev | next | prev2 | next2 | lower | cap | caps | noquote | midsent | question | nosent
    negate: bool
    words: WordSet | None


@dataclass(frozen=True)
class Entry:
    """One row of the substitution table."""

    entry_id: str
    garbled: tuple[str, ...]
    replacements: tuple[str, ...]
    clauses: tuple[Clause, ...]
    prior: float
    signature: bool
    family: str
    source: str
    example: str

    @property
    def next_words(self) -> frozenset[str] | None:
        """The words a positive ``next=`` clause allows, when it names words only (a cheap pre-test)."""
        return _clause_words(self.clauses, "next")

    @property
    def prev_words(self) -> frozenset[str] | None:
        """The words a positive ``prev=`` clause allows, when it names words only (a cheap pre-test)."""
        return _clause_words(self.clauses, "prev")


@lru_cache(maxsize=2048)
def _clause_words(clauses: tuple[Clause, ...], key: str) -> frozenset[str] | None:
    for c in clauses:
        w = c.words
        if c.key == key and not c.negate and w is not None and not (w.suffixes or w.cap or w.num or w.punct):
            return w.words
    return None


class _Plan(NamedTuple):
    """An entry with what match_table tests first, worked out once per table instead of per token."""

    entry: Entry
    n: int  # words in the garbled form
    second: str | None  # its second word
    next_words: frozenset[str] | None
    prev_words: frozenset[str] | None
    checks: tuple[tuple[str, bool, WordSet | None, bool, int], ...]  # _checks(entry.clauses)


@dataclass(frozen=True)
class Table:
    entries: tuple[Entry, ...]
    by_first: dict[str, tuple[Entry, ...]]
    splices: tuple[Entry, ...]
    # by_first's entries as plans, in the same order: those of two words or more by their first two
    # words (most "and"s are not "and also": the second word rules them out in one lookup), then
    # the one-word ones by their word
    multi: dict[tuple[str, str], tuple[_Plan, ...]]
    single: dict[str, tuple[_Plan, ...]]
    # when every one-word entry of a word needs one of some next words, all those words: most
    # "the"s are followed by none of them and are ruled out in one lookup
    single_next: dict[str, frozenset[str]]


def _plan(e: Entry) -> _Plan:
    second = e.garbled[1] if len(e.garbled) > 1 else None
    return _Plan(e, len(e.garbled), second, e.next_words, e.prev_words, _checks(e.clauses))


_FLAGS = {"lower", "cap", "caps", "noquote", "midsent", "question"}
_SHAPES = {"@Cap": "cap", "@NUM": "num", "@PUNCT": "punct"}


def _word_set(spec: str, classes: dict[str, frozenset[str]], where: str) -> WordSet:
    words: set[str] = set()
    suffixes: list[str] = []
    shape = {"cap": False, "num": False, "punct": False}
    for item in spec.split("|"):
        if item in _SHAPES:
            shape[_SHAPES[item]] = True
        elif item.startswith("@-"):
            suffixes.append(item[2:])
        elif item.startswith("@"):
            if item[1:] not in classes:
                raise RuleError(f"{where}: unknown word class {item}; define it in despin/wordclasses.tsv")
            words |= classes[item[1:]]
        else:
            words.add(item.lower().translate(_APOS))
    return WordSet(frozenset(words), tuple(suffixes), **shape)


def _clauses(cond: str, classes: dict[str, frozenset[str]], where: str) -> tuple[Clause, ...]:
    if cond.strip() in ("", "-"):
        return ()
    out = []
    for part in cond.split():
        negate = part.startswith("!")
        part = part.lstrip("!")
        if part in _FLAGS:
            out.append(Clause(part, negate, None))
            continue
        key, sep, spec = part.partition("=")
        if not sep or key not in ("prev", "next", "prev2", "next2", "nosent"):
            raise RuleError(f"{where}: cannot read condition clause {part!r}")
        out.append(Clause(key, negate, _word_set(spec, classes, where)))
    return tuple(out)


@lru_cache(maxsize=8)
def load_table(substitutions: str, wordclasses: str) -> Table:
    """Load the substitution table and the word classes its conditions use."""
    classes = {
        r["class"]: frozenset(w.lower().translate(_APOS) for w in r["words"].split()) for r in load_rule_table(wordclasses)
    }
    entries = []
    for n, r in enumerate(load_rule_table(substitutions), start=2):
        where = f"despin/{substitutions} entry {r.get('id') or n}"
        try:
            entries.append(
                Entry(
                    entry_id=r["id"],
                    garbled=tuple(r["garbled"].lower().split()),
                    replacements=tuple(r["replacement"].split("|")),
                    clauses=_clauses(r["condition"], classes, where),
                    prior=float(r["prior"]),
                    signature=r["signature"] == "1",
                    family=r["family"],
                    source=r["source"],
                    example=r["example"],
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise RuleError(f"{where} is malformed ({exc}); fix the row") from exc
    by_first: dict[str, list[Entry]] = {}
    for e in entries:
        if e.family != "splice":
            by_first.setdefault(e.garbled[0], []).append(e)
    ordered = {k: tuple(sorted(v, key=lambda e: -len(e.garbled))) for k, v in by_first.items()}
    multi: dict[tuple[str, str], list[_Plan]] = {}
    single: dict[str, list[_Plan]] = {}
    for k, v in ordered.items():
        for p in map(_plan, v):
            if p.second is None:
                single.setdefault(k, []).append(p)
            else:
                multi.setdefault((k, p.second), []).append(p)
    return Table(
        tuple(entries),
        ordered,
        tuple(e for e in entries if e.family == "splice"),
        {k: tuple(v) for k, v in multi.items()},
        {k: tuple(v) for k, v in single.items()},
        {
            k: frozenset().union(*(p.next_words for p in v))  # type: ignore[misc]
            for k, v in single.items()
            if all(p.next_words is not None for p in v)
        },
    )


def table_for(settings: DespinSettings) -> Table:
    """The substitution table named by the settings."""
    return load_table(settings.substitutions, settings.wordclasses)


# ---------------------------------------------------------------------------------------------
# matching


class Match(NamedTuple):
    """A table entry whose garbled form occurs at tokens ``[i, j)`` and whose condition holds."""

    entry: Entry
    i: int
    j: int
    start: int
    end: int


# A neighbour clause's token, from the first word of the match (prev) or the last one (next):
# punctuation counts as a neighbour, so "prev" of a word after a comma is the comma
_NEIGHBOUR = {"prev": (True, -1), "prev2": (True, -2), "next": (False, 1), "next2": (False, 2)}


def _checks(clauses: tuple[Clause, ...]) -> tuple[tuple[str, bool, WordSet | None, bool, int], ...]:
    """Clauses as (key, negate, words, from the first word, neighbour offset or 0): worked out once
    per table instead of testing key strings per clause per candidate."""
    return tuple((c.key, c.negate, c.words, *_NEIGHBOUR.get(c.key, (False, 0))) for c in clauses)


def _holds(
    checks: tuple[tuple[str, bool, WordSet | None, bool, int], ...],
    tokens: list[Token],
    words: list[int],
    wi: int,
    wj: int,
    sentences: list[Sentence],
) -> bool:
    first = tokens[words[wi]]
    for key, negate, wordset, from_first, offset in checks:
        if offset:
            ti = (words[wi] if from_first else words[wj - 1]) + offset
            tok = tokens[ti] if 0 <= ti < len(tokens) and tokens[ti].sentence == first.sentence else None
            ok = wordset.has(tok)  # type: ignore[union-attr]
        elif key == "lower":
            ok = first.text[0].islower()
        elif key == "cap":
            ok = first.text[0].isupper()
        elif key == "caps":  # all capitals: an acronym ("US"), not a capitalised word
            ok = len(first.text) > 1 and first.text.isupper()
        elif key == "noquote":
            ok = not first.in_quote
        elif key == "midsent":
            sent = sentences[first.sentence]
            ok = words[wi] > sent.first_token and tokens[words[wi] - 1].text not in _QUOTE_CHARS
        elif key == "question":
            sent = sentences[first.sentence]
            ok = sent.last_token > sent.first_token and "?" in tokens[sent.last_token - 1].text
        else:  # nosent
            sent = sentences[first.sentence]
            ok = not any(wordset.has(tokens[t]) for t in range(sent.first_token, sent.last_token))  # type: ignore[union-attr]
        if ok == negate:
            return False
    return True


def match_table(table: Table, tokens: list[Token], sentences: list[Sentence]) -> list[Match]:
    """Every table entry that matches with its condition holding (longest entry first per position)."""
    # index filters below run as C-level map/compress chains: they visit every token of every document
    words = list(compress(range(len(tokens)), map(_IS_WORD, tokens)))
    by_first, multi, single, single_next = table.by_first, table.multi, table.single, table.single_next
    n_words, n_tokens = len(words), len(tokens)
    out: list[Match] = []
    free = 0  # the first word position not inside an earlier match
    for w in compress(range(n_words), map(by_first.__contains__, map(_LOWER, map(tokens.__getitem__, words)))):
        if w < free:
            continue
        low = tokens[words[w]].lower
        # entries of two words or more come first (longest first), then one-word ones, as in by_first
        two = multi.get((low, tokens[words[w + 1]].lower)) if w + 1 < n_words else None
        m = _first_match(two, tokens, words, w, sentences) if two else None
        if m is None and low in single:
            gate = single_next.get(low)
            after = words[w] + 1
            if gate is None or (after < n_tokens and tokens[after].lower in gate):
                m = _first_match(single[low], tokens, words, w, sentences)
        if m is not None:
            out.append(m)
            free = w + len(m.entry.garbled)
    return out


def _first_match(
    plans: tuple[_Plan, ...], tokens: list[Token], words: list[int], w: int, sentences: list[Sentence]
) -> Match | None:
    """The first of ``plans`` whose garbled form starts at word position ``w`` with its condition holding."""
    n_words, n_tokens = len(words), len(tokens)
    for e, n, _second, next_words, prev_words, checks in plans:
        if w + n > n_words:
            continue
        if next_words is not None:
            after = words[w + n - 1] + 1
            if after >= n_tokens or tokens[after].lower not in next_words:
                continue  # the next word the entry needs is not there: most "the"s are not "the their"
        if prev_words is not None:
            before = words[w] - 1
            if before < 0 or tokens[before].lower not in prev_words:
                continue
        span = words[w : w + n]
        if span[-1] - span[0] != n - 1:
            continue  # punctuation inside: not the same phrase
        if n > 1 and any(tokens[k].lower != g for k, g in zip(span, e.garbled, strict=True)):
            continue
        if _holds(checks, tokens, words, w, w + n, sentences):
            return Match(e, span[0], span[-1] + 1, tokens[span[0]].start, tokens[span[-1]].end)
    return None


# ---------------------------------------------------------------------------------------------
# signals and scores


class Signal(NamedTuple):
    """One piece of spin evidence (a named tuple: a spun document has hundreds)."""

    start: int
    end: int
    kind: str  # signature | swap | nonword | case | apostrophe
    label: str
    weight: float


def name_pairs(tokens: Sequence[Token], max_first_zipf: float, max_last_zipf: float) -> set[tuple[str, str]]:
    """Two-word names ("John", "Novak"): two adjacent capitalised words, the second rare as a word."""
    out = set()
    up = list(map(str.isupper, map(_FIRST_CHAR, map(_TEXT, tokens))))
    # two capitalised tokens in a row, found in C; the rest of the test runs on those only
    for k in compress(range(len(tokens) - 1), map(operator.and_, up, up[1:])):
        a, b = tokens[k], tokens[k + 1]
        if not (b.is_word and b.start - a.end == 1):
            continue
        # a surname is rare as an ordinary word; "Watch What" or "The Office" are not name pairs
        # and a first name is not a function word ("The Oscars", "In Athens")
        if a.text[1:].islower() and b.text[1:2].islower() and zipf(b.lower) < max_last_zipf and zipf(a.lower) < max_first_zipf:
            out.add((a.text, b.text))
    return out


@lru_cache(maxsize=65_536)
def _fold(word: str) -> str:
    # cached: repair asks about every name pair of its references, document after document
    return word.lower().translate(_APOS)


def first_name_keys(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """The first names of name pairs as token ``lower`` forms (what ``name_case_slips`` looks up)."""
    return set(map(_fold, {a for a, _ in pairs}))


def name_case_slips(
    tokens: Sequence[Token], pairs: Set[tuple[str, str]], firsts: Set[str] | None = None
) -> list[int]:
    """Indexes of first names written lower-case before their surname ("john Smith").

    ``firsts`` takes ``first_name_keys(pairs)`` when the caller keeps it for many documents.
    """
    if firsts is None:
        firsts = first_name_keys(pairs)
    out = []
    for k in compress(range(len(tokens)), map(firsts.__contains__, map(_LOWER, tokens))):
        if k + 1 == len(tokens):
            break
        t, nxt = tokens[k], tokens[k + 1]
        if t.text.islower() and nxt.is_word and (t.text.capitalize(), nxt.text) in pairs:
            out.append(k)
    return out


class Analysis(NamedTuple):
    """What ``analyse`` finds in a text."""

    tokens: list[Token]
    sentences: list[Sentence]
    matches: list[Match]
    signals: list[Signal]
    name_pairs: set[tuple[str, str]]  # name_pairs(tokens, ...) with the settings' thresholds


def signals(text: str, settings: DespinSettings) -> tuple[list[Token], list[Sentence], list[Match], list[Signal]]:
    """Tokenize, match the table and list every spin signal of a text."""
    return analyse(text, settings)[:4]


def analyse(text: str, settings: DespinSettings) -> Analysis:
    """``signals`` and the text's two-word names (which repair needs too, so they are found once)."""
    tokens, sentences = tokenize(text)
    table = table_for(settings)
    matches = match_table(table, tokens, sentences)
    sig: list[Signal] = []
    for m in matches:
        if m.entry.signature:
            sig.append(Signal(m.start, m.end, "signature", m.entry.entry_id, settings.signature_weight))
        else:
            sig.append(Signal(m.start, m.end, "swap", m.entry.entry_id, settings.swap_weight))
    for a in APOSTROPHE_DAMAGE.finditer(text):
        sig.append(Signal(a.start(), a.end(), "apostrophe", "apostrophe", settings.apostrophe_weight))
    min_len, max_zipf = settings.nonword_min_len, settings.nonword_max_zipf
    # the test depends on a token's text only, so it runs once per distinct text
    lower_alpha = filter(str.isalpha, filter(str.islower, set(map(_TEXT, tokens))))  # the cheap tests, in C
    unknown = {w for w in lower_alpha if len(w) >= min_len and zipf(w) <= max_zipf}
    if unknown:
        for t in compress(tokens, map(unknown.__contains__, map(_TEXT, tokens))):
            sig.append(Signal(t.start, t.end, "nonword", t.lower, settings.nonword_weight))
    pairs = name_pairs(tokens, settings.first_name_max_zipf, settings.surname_max_zipf)
    for k in name_case_slips(tokens, pairs):
        sig.append(Signal(tokens[k].start, tokens[k].end, "case", tokens[k].text, settings.case_weight))
    return Analysis(tokens, sentences, matches, sig, pairs)


def _squash(x: float, scale: float) -> float:
    return 1.0 - math.exp(-x / scale) if scale > 0 else float(x > 0)


def sentence_scores(
    text: str, tokens: list[Token], sentences: list[Sentence], sig: list[Signal], settings: DespinSettings
) -> tuple[float, tuple[records.SentenceSpin, ...]]:
    """Document score and per-sentence scores from a list of signals."""
    starts = list(map(_SENT_START, sentences))
    weight = [0.0] * len(sentences)
    labels: dict[int, list[str]] = {}  # only sentences with signals: most have none

    for s in sig:
        k = max(0, bisect.bisect_right(starts, s.start) - 1)
        weight[k] += s.weight
        labels.setdefault(k, []).append(f"{s.kind}:{s.label}")
    out = []
    for k, s in enumerate(sentences):
        if not text[s.start : s.end].strip():
            continue
        out.append(
            records.SentenceSpin(s.start, s.end, round(_squash(weight[k], settings.sentence_scale), 4), tuple(labels.get(k, ())))
        )
    n_words = sum(map(_IS_WORD, tokens))
    rate = 100.0 * sum(weight) / max(n_words, settings.min_words_for_rate)
    # one or two signals are a slip or a rare word, not a spun article, however short the text
    evidence = min(1.0, len(sig) / settings.min_doc_signals) if settings.min_doc_signals else 1.0
    return round(_squash(rate, settings.doc_rate_scale) * evidence, 4), tuple(out)


def score_spin(text: str, settings: DespinSettings) -> tuple[float, tuple[records.SentenceSpin, ...]]:
    """Spin score of a document in [0, 1] and per-sentence scores with the signals that fired."""
    tokens, sentences, _matches, sig, _pairs = analyse(text, settings)
    return sentence_scores(text, tokens, sentences, sig, settings)
