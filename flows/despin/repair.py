"""Spin repair: undo article-spinner swaps with an edit log, and leave clean text alone.

Needs: CleanDocuments (and optionally clean reference texts, e.g. documents already in the
warehouse) and DespinSettings. Adds: one RepairedDocument per input with ``normalized_text``,
an OffsetMap back to clean_text built from the edits, every edit with its rule, evidence and
confidence (suggestions below ``apply_confidence`` are logged, not applied), and the spin scores.
Documents scoring below ``spun_threshold`` pass through unchanged.

Edit sources, strongest first: cross-source alignment with clean references (align.py) and
names seen in clean sources; the reverse-substitution table (rules/despin/substitutions.tsv)
whose context conditions are checked by detect.py; substitutions learned from the alignments;
case slips, apostrophes turned into double quotes and in-word splices of the second spinner
family (non-words repaired against wordfreq's vocabulary). A bigram model of the references
backed off to wordfreq picks among alternatives and vetoes swaps that make the text less likely.
"""

from __future__ import annotations

import bisect
import math
import operator
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from typing import NamedTuple

from flows import records
from flows.despin.align import Reference, ReferenceIndex, align, capitalised_runs, passage_grams
from flows.despin.detect import (
    APOSTROPHE_DAMAGE,
    Match,
    Token,
    analyse,
    first_name_keys,
    load_table,
    name_case_slips,
    sentence_scores,
    tokenize,
    zipf,
)
from flows.rules import load_table as load_rule_table
from flows.settings import DespinSettings

_TEXT, _LOWER, _FIRST = operator.attrgetter("text"), operator.attrgetter("lower"), operator.itemgetter(0)
_PRIORITY = {"align": 4, "entity": 4, "table": 3, "learned": 2, "case": 1, "apostrophe": 1, "splice": 1}


class Candidate(NamedTuple):
    """A proposed edit. A named tuple, not a dataclass: a spun document has hundreds and they are cheaper to build."""

    start: int
    end: int
    replacement: str
    kind: str
    rule: str
    evidence: str
    confidence: float


# ---------------------------------------------------------------------------------------------
# the context model


class BigramModel:
    """Bigram counts of clean reference texts, smoothed towards wordfreq unigram frequencies."""

    def __init__(self, refs: Sequence[Reference], smoothing: float) -> None:
        self.uni: Counter[str] = Counter()
        self.bi: Counter[tuple[str, str]] = Counter()
        self.k = smoothing
        # one batch scores the same few words around the same swaps document after document
        self._memo: dict[tuple[str, ...], float] = {}
        self._best: dict[tuple, tuple[float, str, float]] = {}
        for ref in refs:
            low = ref.low
            self.uni.update(low)
            self.bi.update(zip(low, low[1:], strict=False))

    def logp(self, words: Sequence[str]) -> float:
        """Natural-log probability of a word sequence under the smoothed bigram model."""
        key = tuple(words)
        got = self._memo.get(key)
        if got is not None:
            return got
        total = 0.0
        bi, uni, k = self.bi, self.uni, self.k
        for a, b in zip(words, words[1:], strict=False):
            total += math.log((bi.get((a, b), 0) + k * _p_uni(b)) / (uni.get(a, 0) + k))
        self._memo[key] = total
        return total

    def best(
        self, prev: str, replacements: tuple[str, ...], garbled: tuple[str, ...], nxt: str
    ) -> tuple[float, str, float]:
        """The likeliest replacement between two words with its log-probability, and the garbled words'."""
        key = (prev, replacements, garbled, nxt)
        got = self._best.get(key)
        if got is None:
            best_lp, best = max((self.logp([prev, *r.lower().split(), nxt]), r) for r in replacements)
            got = self._best[key] = (best_lp, best, self.logp([prev, *garbled, nxt]))
        return got


@lru_cache(maxsize=200_000)
def _p_uni(word: str) -> float:
    z = zipf(word)
    return 10 ** (z - 9) if z > 0 else 1e-9


def _fit_case(
    replacement: str,
    text: str,
    start: int,
    settings: DespinSettings,
    end: int | None = None,
    lines: dict[int, bool] | None = None,
) -> str:
    """Give a replacement the case its place needs: capitalised at a sentence start, in a headline,
    inside a capitalised title, or where the spinner's word was capitalised. ``lines`` keeps which
    lines of ``text`` are headlines, by line start, across calls on the same text."""
    if not replacement or not replacement[:1].islower():
        return replacement
    if (
        text[start : start + 1].isupper()
        or _sentence_initial(text, start)
        or _title_line(text, start, settings, lines)
        or (end is not None and _in_title_run(text, start, end, settings))
    ):
        return replacement[0].upper() + replacement[1:]
    return replacement


_WORD_BEFORE = re.compile(r"([^\W\d_]+)[ \u00a0]+$")
_WORD_AFTER = re.compile(r"[ \u00a0]+([^\W\d_]+)")


def _in_title_run(text: str, start: int, end: int, settings: DespinSettings) -> bool:
    """Whether a span sits inside a title written in title case ("Reasons To _ Happy"): the word
    before is a capitalised function word in mid-sentence and the word after is capitalised."""
    after = _WORD_AFTER.match(text, end, end + settings.title_context_chars)
    if after is None or not after.group(1)[0].isupper():
        return False  # tested first: an anchored match, where the search before scans its window
    before = _WORD_BEFORE.search(text, max(0, start - settings.title_context_chars), start)
    if before is None or _sentence_initial(text, before.start()):
        return False
    word = before.group(1)
    return word[0].isupper() and word.lower() in _function_words(settings) and after.group(1)[0].isupper()


def _sentence_initial(text: str, start: int) -> bool:
    k = start - 1
    while k >= 0 and text[k] in " \t\u00a0\"“”'’":
        k -= 1
    return k < 0 or text[k] in ".!?\n"


def _title_line(text: str, start: int, settings: DespinSettings, lines: dict[int, bool] | None = None) -> bool:
    """Whether the line holding ``start`` is a headline: no final stop and mostly capitalised words."""
    lo = text.rfind("\n", 0, start) + 1
    got = lines.get(lo) if lines is not None else None
    if got is None:
        hi = text.find("\n", start)
        line = text[lo : hi if hi >= 0 else len(text)].strip()
        got = _is_title(line, settings.title_min_word_len, settings.title_max_words, settings.title_cap_share)
        if lines is not None:
            lines[lo] = got
    return got


# keyed by the three thresholds, not the settings object: hashing a DespinSettings hashes all its fields
@lru_cache(maxsize=4096)
def _is_title(line: str, min_word_len: int, max_words: int, cap_share: float) -> bool:
    words = [w for w in line.split() if w[:1].isalpha() and len(w) >= min_word_len]
    if not words or line[-1:] in ".!:,\"”" or len(line.split()) > max_words:
        return False
    return sum(w[0].isupper() for w in words) >= cap_share * len(words)


# ---------------------------------------------------------------------------------------------
# candidate sources


def _table_candidates(
    text: str,
    tokens: list[Token],
    matches: list[Match],
    busy_sentences: set[int],
    model: BigramModel,
    settings: DespinSettings,
    lines: dict[int, bool],
) -> list[Candidate]:
    out = []
    for m in matches:
        e = m.entry
        prev = tokens[m.i - 1].lower if m.i > 0 else "."
        nxt = tokens[m.j].lower if m.j < len(tokens) else "."
        garbled = tuple(tokens[k].lower for k in range(m.i, m.j) if tokens[k].is_word)
        best_lp, best, garbled_lp = model.best(prev, e.replacements, garbled, nxt)
        conf = e.prior
        if tokens[m.i].sentence in busy_sentences:
            conf += settings.sentence_bonus
        if best_lp < garbled_lp - settings.lm_veto_margin:
            conf -= settings.lm_penalty
        rep = _fit_case(best, text, m.start, settings, m.end, lines)
        out.append(
            Candidate(
                m.start,
                m.end,
                rep,
                "table",
                f"table:{e.entry_id}",
                f"{e.family} swap '{' '.join(e.garbled)}' -> '{best}' ({e.source}); e.g. {e.example}",
                min(conf, 1.0),
            )
        )
    return out


_QUOTE_OR_BREAK = re.compile("[\n\"“”‘’']")


def _apostrophe_candidates(text: str, settings: DespinSettings) -> list[Candidate]:
    """Single quotes the spinner turned into double quotes: in contractions, nested quotes, possessives."""
    damaged = {a.start() for a in APOSTROPHE_DAMAGE.finditer(text)}
    out = [
        Candidate(k, k + 1, "'", "apostrophe", "apostrophe",
                  f"double quote inside a contraction: {text[max(0, k - 8) : k + 4]!r}", settings.apostrophe_confidence)
        for k in sorted(damaged)
    ]
    depth = 0
    for m in _QUOTE_OR_BREAK.finditer(text):  # every other character leaves the state alone
        k, ch = m.start(), m.group()
        if ch == "\n":
            depth = 0
            continue
        if k in damaged:
            continue
        before = text[k - 1] if k else " "
        after = text[k + 1] if k + 1 < len(text) else " "
        if ch == "‘":
            depth += 1  # a single quote opened inside a quotation
            continue
        if ch in "’'":
            if depth >= 2 and not (before.isalpha() and after.isalpha()):
                depth -= 1  # closes a single quote (a ’ between letters is an apostrophe)
            continue
        opener = ch == "“" or (ch == '"' and (before.isspace() or before in "([—") and not after.isspace())
        if opener and ch == '"' and depth >= 1 and before == " " and k >= 2 and text[k - 2] in ",.!?" and after.islower():
            opener = False  # 'delivers, "said Ganis': a closing quote typed after a space, before the attribution
        if ch == '"' and opener and depth >= 1:
            depth += 1
            out.append(Candidate(k, k + 1, "'", "apostrophe", "apostrophe:nested",
                                 f"a quote opened inside a quotation: {text[max(0, k - 12) : k + 6]!r}",
                                 settings.nested_quote_confidence))
        elif opener:
            depth += 1
        elif ch == '"' and depth >= 2:
            depth -= 1
            out.append(Candidate(k, k + 1, "'", "apostrophe", "apostrophe:nested",
                                 f"closes a quote opened inside a quotation: {text[max(0, k - 12) : k + 6]!r}",
                                 settings.nested_quote_confidence))
        elif ch == '"' and depth == 0 and before == "s" and after == " ":
            out.append(Candidate(k, k + 1, "'", "apostrophe", "apostrophe:possessive",
                                 f"a plural possessive outside any quotation: {text[max(0, k - 12) : k + 6]!r}",
                                 settings.possessive_quote_confidence))
        else:
            depth = max(0, depth - 1)
    return out


def _splice_candidates(text: str, tokens: list[Token], settings: DespinSettings) -> list[Candidate]:
    table = load_table(settings.substitutions, settings.wordclasses)
    out = []
    # the frequency test depends on a token's lower form only, so it runs once per distinct one
    rare = {x for x in set(map(_LOWER, tokens)) if zipf(x) <= settings.nonword_max_zipf}
    for t in compress(tokens, map(rare.__contains__, map(_LOWER, tokens))):
        if not (t.is_word and t.text.isalpha()):
            continue
        for e in table.splices:
            g = e.garbled[0]
            at = t.lower.find(g)
            if at < 0 or len(t.lower) == len(g):
                continue
            fixed = t.lower[:at] + e.replacements[0] + t.lower[at + len(g) :]
            if zipf(fixed) < settings.splice_min_zipf:
                continue
            rep = fixed[0].upper() + fixed[1:] if t.text[0].isupper() else fixed
            out.append(
                Candidate(
                    t.start,
                    t.end,
                    rep,
                    "splice",
                    f"table:{e.entry_id}",
                    f"non-word {t.text!r}: '{g}' spliced in for '{e.replacements[0]}' gives a known word",
                    e.prior,
                )
            )
            break
    return out


_FUNCTION_CLASSES = ("DET", "POSS", "PRON_SUBJ", "PRON_OBJ", "AUX", "MODAL", "PREP", "CONJ", "SUBORD", "ADV", "QUANT")


def _function_words(settings: DespinSettings) -> frozenset[str]:
    return _classes(settings.wordclasses, _FUNCTION_CLASSES)


def function_words_conj(settings: DespinSettings) -> frozenset[str]:
    """Conjunctions and subordinators (words a clause, and so a subject name, can follow)."""
    return _classes(settings.wordclasses, ("CONJ", "SUBORD"))


def settings_aux(settings: DespinSettings) -> frozenset[str]:
    """Auxiliaries and modals from the word classes (words that can follow a subject name)."""
    return _classes(settings.wordclasses, ("AUX", "MODAL"))


@lru_cache(maxsize=16)
def _classes(wordclasses: str, names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w.lower() for r in load_rule_table(wordclasses) if r["class"] in names for w in r["words"].split())


def _name_pairs(runs: Sequence[tuple[str, str, str]], function_words: frozenset[str]) -> Counter[tuple[str, str]]:
    """(first, last) counts of two-word capitalised runs (``capitalised_runs``) not led by a function word."""
    return Counter((first, last) for low, first, last in runs if low not in function_words)


class LowerCaseIndex:
    """Answers whether some reference writes a word all lower-case ("director", never "john");
    the set is built on the first question, so batches that never ask pay nothing."""

    def __init__(self, refs: Sequence[Reference]) -> None:
        self._refs = refs
        self._words: set[str] | None = None

    def __contains__(self, word: str) -> bool:
        if self._words is None:
            self._words = set()
            for r in self._refs:
                self._words.update(r.lower_words)
        return word in self._words


@dataclass(frozen=True)
class Names:
    """Names seen in clean references: two-word names by part, and longer names."""

    by_last: dict[str, frozenset[str]]
    by_first: dict[str, frozenset[str]]
    long: tuple[tuple[str, ...], ...]
    lower_words: LowerCaseIndex | frozenset[str] = frozenset()  # words the references write in lower case
    ref_pairs: frozenset[tuple[str, str]] = frozenset()  # two-word names the references themselves write
    origin: str = "clean source"  # what the evidence of a repair cites
    pairs: frozenset[tuple[str, str]] = frozenset()  # every (first, last) of by_last, worked out once
    first_keys: frozenset[str] = frozenset()  # first_name_keys(pairs), worked out once

    @staticmethod
    def of(refs: Sequence[Reference], function_words: frozenset[str]) -> Names:
        by_last: dict[str, set[str]] = {}
        by_first: dict[str, set[str]] = {}
        long: set[tuple[str, ...]] = set()
        for ref in refs:
            pairs, ref_long = _name_pairs(ref.runs, function_words), ref.long_runs
            for first, last in pairs:
                by_last.setdefault(last, set()).add(first)
                by_first.setdefault(first, set()).add(last)
            long |= ref_long
        return Names(
            {k: frozenset(v) for k, v in by_last.items()},
            {k: frozenset(v) for k, v in by_first.items()},
            tuple(sorted(long)),
            LowerCaseIndex(refs),
            ref_pairs := frozenset((f, last) for last, fs in by_last.items() for f in fs),
            pairs=ref_pairs,
            first_keys=frozenset(first_name_keys(ref_pairs)),
        )

    def with_own(self, own: Sequence[Token], function_words: frozenset[str], settings: DespinSettings) -> Names:
        """These names plus the two-word names the document (``own``: its tokens) itself writes most of the time.

        Without references the document is its own evidence: a spinner swaps a name part in some
        places only, so "John Novak" written many times outweighs "Man Novak" written once.
        A name the references know keeps the references' reading.
        """
        pairs = _name_pairs(capitalised_runs([t for t in own if t.is_word])[0], function_words)
        by_last: dict[str, Counter[str]] = {}
        for (first, last), n in pairs.items():
            by_last.setdefault(last, Counter())[first] = n
        add_last: dict[str, frozenset[str]] = {}
        add_first: dict[str, set[str]] = {}
        for last, firsts in by_last.items():
            if last in self.by_last:
                continue  # the references know this surname: their reading stands
            (first, n), *rest = firsts.most_common()
            if n >= settings.own_name_min_count and n >= settings.own_name_dominance * sum(m for _, m in rest):
                add_last[last] = frozenset([first])
                add_first.setdefault(first, set()).add(last)
        if not add_last:
            return self
        return Names(
            {**add_last, **self.by_last},
            {**{k: frozenset(v) for k, v in add_first.items()}, **self.by_first},
            self.long,
            self.lower_words,
            self.ref_pairs,
            "clean source or this text",
            self.pairs | (added := {(f, last) for last, fs in add_last.items() for f in fs}),
            self.first_keys | first_name_keys(added),
        )


def _entity_candidates(
    text: str,
    tokens: list[Token],
    doc_pairs: set[tuple[str, str]],
    names: Names,
    function_words: frozenset[str],
    settings: DespinSettings,
) -> tuple[list[Candidate], dict[str, str]]:
    """Name parts the spinner swapped, repaired from full names in clean sources (``doc_pairs``: the
    text's own two-word names, as ``analyse`` found them)."""
    out: list[Candidate] = []
    learned: dict[str, str] = {}
    words = [t for t in tokens if t.is_word]
    titles = _classes(settings.wordclasses, ("TITLE",))
    texts = [t.text for t in words]
    by_last, by_first = names.by_last, names.by_first
    # only a pair with a known name part can propose anything: the others are skipped in C
    known_part = map(operator.or_, map(by_first.__contains__, texts), map(by_last.__contains__, texts[1:]))
    for k in compress(range(len(words) - 1), known_part):
        a, b = words[k], words[k + 1]
        c = words[k + 2] if k + 2 < len(words) else None
        adjacent = text[a.end : b.start] == " "
        # "Man Novak": a very common word before a surname that this text and a clean source
        # both give with one and the same first name
        firsts = names.by_last.get(b.text)
        if adjacent and firsts and len(firsts) == 1 and a.text[:1].isupper():
            (first,) = firsts
            if (
                a.text != first
                and (first, b.text) in doc_pairs
                and a.lower not in function_words
                and a.lower not in titles
                and a.text not in names.by_first
                and zipf(a.lower) >= settings.entity_swap_min_zipf
            ):
                out.append(
                    Candidate(
                        a.start,
                        a.end,
                        first,
                        "entity",
                        f"entity:{first} {b.text}",
                        f"{names.origin} names '{first} {b.text}'; '{a.text}' is an ordinary word, not a known first name",
                        settings.entity_confidence,
                    )
                )
                learned[a.lower] = first
        # "Anna rock" (for "Anna Stone"): a known first name followed by an ordinary lower-case word where its surname should be
        lasts = names.by_first.get(a.text)
        if adjacent and lasts and len(lasts) == 1 and b.text.islower() and b.text.isalpha():
            (last,) = lasts
            if (a.text, last) not in doc_pairs:
                continue
            # the next word must end the name phrase: an auxiliary, a modal or punctuation
            verbish = c is None or not c.is_word or c.lower in settings_aux(settings)
            common = settings.entity_min_common_zipf <= zipf(b.lower) < settings.entity_max_word_zipf
            inflected = b.lower.endswith(("ed", "ing", "s"))  # a verb or plural, not an adjective-like surname
            if b.lower not in function_words and common and verbish and not inflected:
                out.append(
                    Candidate(
                        b.start,
                        b.end,
                        last,
                        "entity",
                        f"entity:{a.text} {last}",
                        f"{names.origin} names '{a.text} {last}'; '{a.text} {b.text}' reads as the name with its surname swapped",
                        settings.entity_loose_confidence,
                    )
                )
    # "Watch What wake up Live": a longer name from a clean source with its middle words swapped
    by_first_tok: dict[str, list[tuple[str, ...]]] = {}
    for name in names.long:
        by_first_tok.setdefault(name[0], []).append(name)
    for w in compress(range(len(words)), map(by_first_tok.__contains__, texts)):
        t = words[w]
        for name in by_first_tok[t.text]:
            mid = len(name) - 2
            for size in (mid, mid + 1, mid - 1):
                if size < 1 or w + size + 1 >= len(words):
                    continue
                end_tok = words[w + size + 1]
                if end_tok.text != name[-1]:
                    continue
                middle = words[w + 1 : w + size + 1]
                if any(m.sentence != t.sentence for m in middle) or not any(m.text[:1].islower() for m in middle):
                    continue
                got = tuple(m.text for m in middle)
                if got == name[1:-1]:
                    continue
                # keep the edit to the words that differ at the edges
                run = [t, *middle, end_tok]
                if not all(text[a.end : b.start].isspace() for a, b in zip(run, run[1:], strict=False)):
                    continue  # punctuation inside: not one name
                lo = 0
                while lo < min(len(got), mid) and got[lo] == name[1 + lo]:
                    lo += 1
                hi = 0  # equal words at the end: "The two Washington Post" inserts, it does not swap
                while hi < min(len(got), mid) - lo and got[-1 - hi] == name[-2 - hi]:
                    hi += 1
                s, e = middle[lo].start, middle[len(middle) - 1 - hi].end
                rep = " ".join(name[1 + lo : len(name) - 1 - hi])
                if not rep or lo + hi >= len(got):
                    continue
                # a spinner swaps some words of a name, not all of a longer middle, and writes its own
                # words in lower case: "Sheriff deputy Jerry Ortiz" is another name, not a swap
                shared = {g.lower() for g in got} & {x.lower() for x in name[1:-1]}
                if (mid >= 2 and not shared) or any(g[:1].isupper() for g in got[lo : len(got) - hi]):
                    continue
                out.append(
                    Candidate(
                        s,
                        e,
                        rep,
                        "entity",
                        f"entity:{' '.join(name)}",
                        f"clean source names '{' '.join(name)}'; here '{' '.join(got)}' sits between its outer words",
                        settings.entity_confidence,
                    )
                )
                break
    # lower-case names ("john Novak"): name pairs known from this text and the references
    known = doc_pairs | names.pairs
    slips = name_case_slips(tokens, known, names.first_keys | first_name_keys(doc_pairs))
    # "But john Knew your Love": a first name of this text written lower-case before any capitalised
    # word, when the text writes it capitalised far more often than lower-case
    firsts = {f for f, _ in doc_pairs}
    # capitalised in mid-sentence: a sentence-initial "Earlier Monday" does not make "Earlier" a name
    capitalised = compress(range(1, len(words)), map(str.isupper, map(_FIRST, texts[1:])))
    cased = Counter(
        words[i].text
        for i in capitalised
        if words[i - 1].sentence == words[i].sentence and words[i].start - words[i - 1].end <= 2
    )
    cased.update(filter(str.islower, texts))
    cased_all = Counter(texts)
    before_surname = set(slips)
    # the test below depends on a token's text first, so it runs once per distinct text
    lower_firsts = {x for x in set(map(_TEXT, tokens)) if x.islower() and x.capitalize() in firsts}
    for k in compress(range(len(tokens) - 1), map(lower_firsts.__contains__, map(_TEXT, tokens))):
        t, nxt = tokens[k], tokens[k + 1]
        if t.is_word and nxt.is_word and nxt.text[:1].isupper():
            slips.append(k)
    for k in sorted(set(slips)):
        t = tokens[k]
        # a word the clean sources write lower-case ("director Chris") or a title is no name slip,
        # nor one this text itself writes lower-case as often as capitalised (before any capitalised
        # word rather than a known surname, it must be written capitalised far more often)
        if t.text in names.lower_words or t.lower in titles or t.lower in function_words:
            continue
        confirmed = k + 1 < len(tokens) and (t.text.capitalize(), tokens[k + 1].text) in names.ref_pairs
        # before a known surname the pair itself is evidence, so sentence-initial uses count too
        if k in before_surname:
            enough = cased_all[t.text.capitalize()] >= cased_all[t.text]
        else:
            enough = cased[t.text.capitalize()] >= settings.own_name_dominance * cased[t.text]
        if not (confirmed or enough):
            continue
        out.append(
            Candidate(
                t.start,
                t.end,
                t.text.capitalize(),
                "case",
                "case:name",
                f"'{t.text.capitalize()}' is used as a first name; written lower-case before a capitalised word",
                settings.case_confidence,
            )
        )
    return out, learned


def _learned_candidates(
    text: str,
    tokens: list[Token],
    learned_words: dict[str, str],
    learned_subs: Sequence,
    function_words: frozenset[str],
    settings: DespinSettings,
    lines: dict[int, bool] | None = None,
) -> list[Candidate]:
    """Reuse swaps taught by alignment (with the same following word) and name swaps (before a verb)."""
    out = []
    by_pair = {(s.garbled, s.next_word): s for s in learned_subs}
    # only a word some swap or name was learned for can be repaired here: the others are skipped in C
    keys = {g for g, _ in by_pair} | learned_words.keys()
    if not keys:
        return out
    words = [k for k, t in enumerate(tokens) if t.is_word]
    for w in compress(range(len(words)), map(keys.__contains__, map(_LOWER, map(tokens.__getitem__, words)))):
        k = words[w]
        t = tokens[k]
        nxt = tokens[words[w + 1]].lower if w + 1 < len(words) else ""
        sub = by_pair.get((t.lower, nxt))
        if sub is not None:
            out.append(
                Candidate(
                    t.start,
                    t.end,
                    _fit_case(sub.replacement, text, t.start, settings, None, lines),
                    "learned",
                    f"align:{sub.ref_id}",
                    f"'{t.lower} {nxt}' was '{sub.replacement} {nxt}' in a passage aligned with {sub.ref_id}",
                    settings.learned_confidence,
                )
            )
            continue
        name = learned_words.get(t.lower)
        if name and t.text.islower() and k > 0 and k + 1 < len(tokens):
            before, after = tokens[k - 1], tokens[k + 1]
            subject_slot = not before.is_word or before.lower in function_words_conj(settings)
            verb_next = after.is_word and (after.lower not in function_words or after.lower in settings_aux(settings))
            if subject_slot and verb_next:
                out.append(
                    Candidate(
                        t.start,
                        t.end,
                        name,
                        "learned",
                        f"entity:{name}",
                        f"'{t.text}' stands for the name {name} elsewhere in this text (learned from a name repair)",
                        settings.learned_confidence,
                    )
                )
    return out


# ---------------------------------------------------------------------------------------------
# choosing and applying edits


def _resolve(cands: list[Candidate], settings: DespinSettings) -> list[Candidate]:
    """Non-overlapping edits: strongest source first; agreeing sources raise confidence."""
    agree: Counter[tuple[int, int, str]] = Counter((c.start, c.end, c.replacement.lower()) for c in cands)
    ranked = sorted(cands, key=lambda c: (-_PRIORITY[c.kind], -c.confidence, c.start - c.end))
    taken: list[Candidate] = []
    spans: list[tuple[int, int]] = []
    busy = bytearray(max((c.end for c in cands), default=0) + 1)  # characters already edited
    for c in ranked:
        if c.start < c.end:
            if busy.find(1, c.start, c.end) >= 0:
                continue
        elif any(s < c.start < e for s, e in spans):
            continue
        if c.replacement == "" and c.start == c.end:
            continue
        if agree[(c.start, c.end, c.replacement.lower())] > 1:
            c = Candidate(c.start, c.end, c.replacement, c.kind, c.rule, c.evidence + " (confirmed by another source)",
                          min(1.0, c.confidence + settings.agree_bonus))
        taken.append(c)
        spans.append((c.start, c.end))
        busy[c.start : c.end] = b"\x01" * (c.end - c.start)
    return sorted(taken, key=lambda c: c.start)


def _apply(text: str, edits: Sequence[records.Edit]) -> tuple[str, records.OffsetMap]:
    parts: list[str] = []
    segs: list[tuple[int, int, int, int]] = []
    cur = dst = 0
    for e in edits:
        if not e.applied:
            continue
        if e.clean_start > cur:
            parts.append(text[cur : e.clean_start])
            segs.append((dst, dst + e.clean_start - cur, cur, e.clean_start))
            dst += e.clean_start - cur
        parts.append(e.replacement)
        segs.append((dst, dst + len(e.replacement), e.clean_start, e.clean_end))
        dst += len(e.replacement)
        cur = e.clean_end
    if cur < len(text) or not segs:
        parts.append(text[cur:])
        segs.append((dst, dst + len(text) - cur, cur, len(text)))
    return "".join(parts), records.OffsetMap(tuple(segs))


def _passthrough(
    doc: records.CleanDocument, score: float, sentences: tuple[records.SentenceSpin, ...], settings: DespinSettings
) -> records.RepairedDocument:
    text = doc.clean_text
    return records.RepairedDocument(
        doc, text, records.OffsetMap.identity(len(text)), score, score >= settings.spun_threshold, (), sentences
    )


def _repair_one(
    doc: records.CleanDocument,
    analysed: tuple,
    refs: ReferenceIndex,
    model: BigramModel,
    names: Names,
    function_words: frozenset[str],
    settings: DespinSettings,
) -> records.RepairedDocument:
    text = doc.clean_text
    tokens, sentences, matches, sig, score, sent_scores, doc_pairs = analysed
    starts = [s.start for s in sentences]
    busy = Counter(_sentence_of(starts, s.start) for s in sig)
    busy_sentences = {k for k, n in busy.items() if n >= 2}
    lines: dict[int, bool] = {}  # which lines of the text are headlines, by line start
    cands = _table_candidates(text, tokens, matches, busy_sentences, model, settings, lines)
    cands += _apostrophe_candidates(text, settings)
    cands += _splice_candidates(text, tokens, settings)
    own = names.with_own(tokens, function_words, settings)
    ent, learned_words = _entity_candidates(text, tokens, doc_pairs, own, function_words, settings)
    cands += ent
    aligned, learned_subs = align(tokens, refs, settings, exclude=doc.doc.doc_id)
    for a in aligned:
        cands.append(
            Candidate(
                a.start,
                a.end,
                _fit_case(a.replacement, text, a.start, settings, a.end, lines),
                "align",
                f"align:{a.ref_id}",
                f"same passage in {a.ref_id} (similarity {a.ratio}) reads {a.replacement!r} at {a.ref_start}-{a.ref_end}",
                settings.align_confidence,
            )
        )
    cands += _learned_candidates(text, tokens, learned_words, learned_subs, function_words, settings, lines)
    chosen = _resolve(cands, settings)
    doc_id = doc.doc.doc_id
    edits = tuple(
        records.Edit(
            doc_id,
            c.start,
            c.end,
            text[c.start : c.end],
            c.replacement,
            c.rule,
            c.evidence,
            round(c.confidence, 3),
            c.confidence >= settings.apply_confidence,
        )
        for c in chosen
        if c.replacement != text[c.start : c.end]
    )
    normalized, mapping = _apply(text, edits)
    return records.RepairedDocument(doc, normalized, mapping, score, True, edits, sent_scores)


def _sentence_of(starts: list[int], pos: int) -> int:
    """The last sentence starting at or before ``pos`` (the first one if none does), by sentence starts."""
    return max(0, bisect.bisect_right(starts, pos) - 1)


def _analyse(text: str, settings: DespinSettings) -> tuple:
    tokens, sentences, matches, sig, pairs = analyse(text, settings)
    score, sent_scores = sentence_scores(text, tokens, sentences, sig, settings)
    return tokens, sentences, matches, sig, score, sent_scores, pairs


def repair_documents(
    docs: Sequence[records.CleanDocument],
    references: Sequence[str],
    settings: DespinSettings,
    spin: Sequence[tuple[float, tuple[records.SentenceSpin, ...]]] | None = None,
) -> list[records.RepairedDocument]:
    """Score every document; repair the spun ones using the clean ones and ``references`` as evidence.

    ``spin`` takes the documents' ``score_spin`` results when the caller has them already, so clean
    documents pass through without being analysed a second time.
    """
    analysed: list[tuple | None] = [None] * len(docs)
    if spin is None:
        analysed = [_analyse(d.clean_text, settings) for d in docs]
        spin = [(a[4], a[5]) for a in analysed]  # type: ignore[index]
    spun = {k for k, (score, _) in enumerate(spin) if score >= settings.spun_threshold}
    if not spun:
        return [_passthrough(d, score, sents, settings) for d, (score, sents) in zip(docs, spin, strict=True)]
    for k in spun:
        if analysed[k] is None:
            analysed[k] = _analyse(docs[k].clean_text, settings)
    # built once per batch: every spun document is aligned against the same references
    refs = [
        Reference.of(d.doc.doc_id, d.clean_text, a[0] if a is not None else None, settings.reference_cache_size)
        for k, (d, a) in enumerate(zip(docs, analysed, strict=True))
        if k not in spun
    ]
    refs += [Reference.of(f"reference:{k}", t, None, settings.reference_cache_size) for k, t in enumerate(references)]
    function_words = _function_words(settings)
    model = BigramModel(refs, settings.lm_smoothing)
    names = Names.of(refs, function_words)
    wanted: set[tuple[str, ...]] = set()
    for k in spun:
        wanted |= passage_grams(analysed[k][0], settings)  # type: ignore[index]
    index = ReferenceIndex(refs, settings.align_ngram, settings.align_max_ngram_df, wanted)
    out = []
    for k, (d, (score, sents)) in enumerate(zip(docs, spin, strict=True)):
        if k in spun:
            out.append(_repair_one(d, analysed[k], index, model, names, function_words, settings))  # type: ignore[arg-type]
        else:
            out.append(_passthrough(d, score, sents, settings))
    return out


def repair_text(
    text: str, references: Sequence[str], settings: DespinSettings, doc_id: str = "stdin"
) -> records.RepairedDocument:
    """Repair one text (for ``recon despin FILE``): wraps it in a CleanDocument named ``doc_id``."""
    raw = records.RawDocument(
        doc_id=doc_id,
        source_path=doc_id,
        content_sha256="",
        raw_text=text,
        media_type="text",
        encoding="utf-8",
        size_bytes=len(text.encode("utf-8")),
    )
    clean = records.CleanDocument(raw, None, text, records.OffsetMap.identity(len(text)))
    return repair_documents([clean], references, settings)[0]


__all__ = ["BigramModel", "repair_documents", "repair_text", "tokenize"]
