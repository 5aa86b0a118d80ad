"""What the claim extractors share about one document: text, layout, resolved mentions, times.

Needs: a RepairedDocument, its sentence layout, resolved entity candidates and timexes.
Adds: lookups (mentions in a span, the person a pronoun refers to, the time of a clause) and
``make_claim``, which fills evidence, sentence, raw offsets and the deterministic claim id.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from flows.extract.entities import Candidate, cues
from flows.extract.sentences import Layout, is_abbreviation
from flows.records import Claim, Entity, RepairedDocument, Timex

PRONOUN_GENDER = {"he": "m", "him": "m", "his": "m", "she": "f", "her": "f", "hers": "f"}
PLURAL_PRONOUNS = frozenset(("they", "them", "their"))
_PRONOUN_AFTER = re.compile(r"\b(he|him|his|she|her|hers)\b", re.IGNORECASE)
_WORDS_BEFORE = re.compile(r"[A-Za-z][\w'\u2019.-]*|[.!?:;,\u2014\u2013\"\u201c\u201d(]")
_LETTERS = re.compile(r"[a-z]+")
_QUOTE_MARKS = frozenset('"\u201c\u201d')
_NEXT_WORD = re.compile(r" ([A-Za-z][\w-]*)")
# words that may follow a year that dates the clause ("in 2008 as X", "in 2005 for hosting"), and words
# before one that make it a time adverbial ("in 2008 Chiefs ...")
_AFTER_TIME = frozenset(["and", "or", "but", "as", "for", "at", "in", "on", "to", "from", "with", "after", "before", "when", "while", "by", "of", "until", "since", "during", "than", "that", "which", "who"])
_BEFORE_TIME = frozenset(["in", "on", "since", "by", "from", "during", "until", "of", "before", "after", "around", "early", "late"])
# words after which a name still opens a clause (so it is a subject, not an object)
_CLAUSE_OPENERS = frozenset(("and", "but", "while", "when", "as", "after", "before", "because", "then", "so", "that", "although", "though", "whereas", "where", "if", "since", "until", "once", "also"))


@dataclass
class DocContext:
    """One document with everything the claim extractors look up."""

    doc: RepairedDocument
    text: str
    layout: Layout
    mentions: Sequence[Candidate]
    entities: dict[str, Entity]
    timexes: Sequence[Timex]
    pronoun_lookback: int = 3
    quote_spans: list[tuple[int, int]] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    _tstarts: list[int] = field(default_factory=list)
    _words: list[frozenset[str]] | None = None
    _gender: dict[str, str] | None = None
    _quote_index: tuple[list[tuple[int, int]], int, list[int], list[int]] | None = None
    _subject: dict[int, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mentions = sorted((m for m in self.mentions if m.entity_id), key=lambda m: m.start)
        self._starts = [m.start for m in self.mentions]
        self.timexes = sorted(self.timexes, key=lambda t: t.start)
        self._tstarts = [t.start for t in self.timexes]
        self._gender = None  # computed on first use, once the quote extractor has set quote_spans

    # -- entities -----------------------------------------------------------------------
    def entity(self, cand: Candidate) -> Entity:
        return self.entities[cand.entity_id]

    def mentions_in(self, a: int, b: int) -> list[Candidate]:
        """Mentions lying inside [a, b)."""
        i = bisect.bisect_left(self._starts, a)
        out = []
        while i < len(self.mentions) and self.mentions[i].start < b:
            if self.mentions[i].end <= b:
                out.append(self.mentions[i])
            i += 1
        return out

    def mention_at(self, pos: int) -> Candidate | None:
        """The mention starting exactly at ``pos`` (after optional spaces)."""
        i = bisect.bisect_left(self._starts, pos)
        if i < len(self.mentions) and self.mentions[i].start == pos:
            return self.mentions[i]
        return None

    def in_quote(self, pos: int) -> bool:
        """Whether ``pos`` lies inside one of ``quote_spans``."""
        spans = self.quote_spans
        if not spans:
            return False
        index = self._quote_index
        if index is None or index[0] is not spans or index[1] != len(spans):
            # asked for every mention, timex and match: spans sorted by start, with the running maximum of their
            # ends, answer by bisection (some span holds pos iff one starting at or before it ends after it)
            ordered = sorted(spans)
            index = self._quote_index = (spans, len(spans), [a for a, _ in ordered], list(accumulate((b for _, b in ordered), max)))
        i = bisect.bisect_right(index[2], pos)
        return i > 0 and index[3][i - 1] > pos

    def subject_like(self, m: Candidate) -> bool:
        """True when a mention stands where a clause's subject stands: not right after a preposition or verb."""
        # it depends only on the text before the mention, and quotes, events and genders all ask it
        known = self._subject.get(m.start)
        if known is None:
            known = self._subject[m.start] = self._subject_like(m)
        return known

    def _subject_like(self, m: Candidate) -> bool:
        words = _WORDS_BEFORE.findall(self.text, max(0, m.start - 60), m.start)
        # "writer Ivo Tarkanian", "the show 'Title'": look past a role or work noun (and quote marks) to the word before
        c = cues()
        while words:
            if words[-1].lower() in c.roles or words[-1].lower() in c.work_nouns or words[-1] in _QUOTE_MARKS:
                words.pop()
            elif words[-1] in ("and", "&") and len(words) > 1 and words[-2][0].isupper() and not words[-2].endswith("."):
                # a second conjunct of names ("Fire and Rescue Service") stands where the first one does
                words.pop()
                while words and words[-1][0].isupper() and not words[-1].endswith("."):
                    words.pop()
            else:
                break
        if not words:
            return True
        w = words[-1]
        if w.endswith(".") and not is_abbreviation(w):
            return True  # the previous sentence's last word
        return not w[0].islower() or w in _CLAUSE_OPENERS

    def genders(self) -> dict[str, str]:
        """Entity id -> "f" | "m" for the persons whose gender the text shows (computed once)."""
        if self._gender is None:
            self._gender = self._genders()
        return self._gender

    def _genders(self) -> dict[str, str]:
        """Gender of each person entity: titles and role nouns ("Mrs.", "actress") before its mentions, else
        the he/she pronouns after its subject-position mentions in the same sentence, by majority."""
        votes: dict[str, Counter] = {}
        gender_cues = cues().gender
        persons = [m for m in self.mentions if self.entities[m.entity_id].type == "PERSON"]
        sentences = self.layout.sentences
        for k, m in enumerate(persons):
            prev = _WORDS_BEFORE.findall(self.text, max(0, m.start - 30), m.start)
            if prev and (prev[-1] in gender_cues or prev[-1].lower() in gender_cues):
                g = gender_cues.get(prev[-1]) or gender_cues[prev[-1].lower()]
                votes.setdefault(m.entity_id, Counter())[g] += 3
            if self.in_quote(m.start) or not self.subject_like(m):
                continue
            stop = persons[k + 1].start if k + 1 < len(persons) else len(self.text)
            if sentences:
                stop = min(stop, sentences[self.layout.sentence_at(m.start)].end)
            for p in _PRONOUN_AFTER.finditer(self.text, m.end, stop):
                if not self.in_quote(p.start()):
                    votes.setdefault(m.entity_id, Counter())[PRONOUN_GENDER[p.group(1).lower()]] += 1
        out = {}
        for eid, c in votes.items():
            (g, n), *rest = c.most_common()
            if not rest or n > rest[0][1]:
                out[eid] = g
        return out

    def gender_fits(self, m: Candidate, pronoun: str) -> bool:
        """True unless the mention's known gender contradicts a he/she pronoun."""
        want = PRONOUN_GENDER.get(pronoun.lower())
        g = self.genders().get(m.entity_id)
        return want is None or g is None or g == want

    def resolve_pronoun(self, pronoun: str, pos: int) -> Candidate | None:
        """The person a he/she pronoun at ``pos`` refers to: among person mentions (outside quotes) in its
        sentence and the few before it, a known gender match first, then a clause subject, then the nearest;
        with none there, the nearest person before it whose gender the text gives as the pronoun's."""
        want = PRONOUN_GENDER.get(pronoun.lower())
        lo = 0
        if self.layout.sentences:
            # count back over sentences of narration only: a long quote must not push its speaker out of reach
            si, left = self.layout.sentence_at(pos), self.pronoun_lookback
            while si > 0 and left > 0:
                si -= 1
                if not self.in_quote(self.layout.sentences[si].start):
                    left -= 1
            lo = self.layout.sentences[si].start
        best: tuple[tuple[int, int, int], Candidate] | None = None
        i = bisect.bisect_left(self._starts, pos) - 1
        while i >= 0:
            m = self.mentions[i]
            i -= 1
            ent = self.entities[m.entity_id]
            if ent.type != "PERSON" or self.in_quote(m.start) or ent.name.startswith("The "):
                continue  # ("The NYPD", typed a person only because it "said" something, is no he or she)
            g = self.genders().get(m.entity_id)
            if want is not None and g is not None and g != want:
                continue
            if m.start < lo:
                # beyond the window only a person the text itself calls he/she will do
                if best is None and (want is None or g == want):
                    return m
                if best is not None:
                    break
                continue
            rank = (0 if want is not None and g == want else 1, 0 if self.subject_like(m) else 1, -m.start)
            if best is None or rank < best[0]:
                best = (rank, m)
        return best[1] if best else None

    def recent_persons(self, pos: int, limit_sentences: int) -> list[Candidate]:
        """Distinct persons mentioned (outside quotes) before ``pos`` in its sentence and up to N before it, each at
        its last mention, in order."""
        si = self.layout.sentence_at(pos)
        lo = self.layout.sentences[max(0, si - limit_sentences)].start if self.layout.sentences else 0
        latest: dict[str, Candidate] = {}  # each person's last mention (the one a coordination test needs)
        for m in self.mentions_in(lo, pos):
            if self.entities[m.entity_id].type == "PERSON" and not self.in_quote(m.start):
                latest.pop(m.entity_id, None)
                latest[m.entity_id] = m
        return list(latest.values())

    def sentence_words(self, si: int) -> frozenset[str]:
        """Lowercase letter runs of sentence ``si`` (computed once): lets an extractor skip sentences that
        hold none of its trigger words before running its patterns."""
        if self._words is None:
            lowered = self.text.lower()
            if len(lowered) == len(self.text):
                # each character lowered to one: offsets still match, and a lowercase ASCII letter (all the
                # pattern reads) comes out the same whether the text is lowered whole or sentence by sentence
                self._words = [frozenset(_LETTERS.findall(lowered, s.start, s.end)) for s in self.layout.sentences]
            else:
                self._words = [frozenset(_LETTERS.findall(self.text[s.start : s.end].lower())) for s in self.layout.sentences]
        return self._words[si]

    # -- time -----------------------------------------------------------------------------
    def time_near(self, a: int, b: int, pos: int, keep: Callable[[Timex], bool] | None = None) -> Timex | None:
        """The DATE timex inside [a, b) nearest to ``pos``, outside quotes (and passing ``keep``)."""
        best = None
        i = bisect.bisect_left(self._tstarts, a)
        for t in self.timexes[i : bisect.bisect_left(self._tstarts, b)]:
            if (
                t.end <= b and t.type in ("DATE", "TIME") and t.value != "PRESENT_REF" and not self.in_quote(t.start)
                and not self._modifier(t) and not self._in_name(t) and (keep is None or keep(t))
            ):  # fmt: skip
                d = min(abs(t.start - pos), abs(t.end - pos))
                if best is None or d < best[0]:
                    best = (d, t)
        return best[1] if best else None

    def _in_name(self, t: Timex) -> bool:
        """A time word that is part of a longer name ("World News Tonight", "Patch Tuesday") dates nothing."""
        return any(m.start <= t.start and t.end <= m.end and m.end - m.start > t.end - t.start for m in self.mentions_in(max(0, t.start - 60), t.end + 60))

    def _modifier(self, t: Timex) -> bool:
        """A bare year or decade used as an adjective ("1950s pin-up star", "the 2008 Chiefs"): it dates a noun,
        not the event of the clause."""
        if t.granularity not in ("year", "decade") or not t.text[:1].isdigit():
            return False
        nxt = _NEXT_WORD.match(self.text, t.end)
        prev = _WORDS_BEFORE.findall(self.text, max(0, t.start - 20), t.start)
        return bool(nxt) and nxt.group(1).lower() not in _AFTER_TIME and not (prev and prev[-1].lower() in _BEFORE_TIME)

    # -- claims ---------------------------------------------------------------------------
    def sentence_text(self, a: int, b: int) -> str:
        if not self.layout.sentences:
            return self.text[a:b]
        s0 = self.layout.sentences[self.layout.sentence_at(a)]
        s1 = self.layout.sentences[self.layout.sentence_at(max(a, b - 1))]
        return self.text[min(s0.start, a) : max(s1.end, b)]


def claim_id(doc_id: str, kind: str, predicate: str, start: int, end: int, subject_id: str = "") -> str:
    """Deterministic claim id: sha1 of doc, kind, predicate, span (and subject, which tells apart the claims
    "they both married" makes about each person over one span), first 16 hex digits."""
    key = f"{doc_id}\t{kind}\t{predicate}\t{start}\t{end}" + (f"\t{subject_id}" if subject_id else "")
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def make_claim(
    ctx: DocContext,
    kind: str,
    predicate: str,
    start: int,
    end: int,
    extractor: str,
    confidence: float,
    *,
    subject: Candidate | None = None,
    obj: Candidate | None = None,
    time: Timex | None = None,
    **fields: object,
) -> Claim:
    """A claim with its evidence span, sentence, raw offsets, entity ids and time fields filled in."""
    raw_start, raw_end = ctx.doc.norm_to_raw(start, end)
    extra: dict[str, object] = {}
    if subject is not None:
        extra["subject"] = ctx.entity(subject).name
        extra["subject_entity_id"] = subject.entity_id
    if obj is not None:
        extra["object"] = ctx.entity(obj).name
        extra["object_entity_id"] = obj.entity_id
    if time is not None:
        extra.update(
            time_text=time.text,
            time_value=time.value,
            time_start=time.time_start,
            time_end=time.time_end,
            granularity=time.granularity,
            time_anchored=time.anchored,
        )
    extra.update(fields)
    extra.setdefault("subject", None)
    extra.setdefault("object", None)
    return Claim(
        claim_id=claim_id(ctx.doc.doc_id, kind, predicate, start, end, str(extra.get("subject_entity_id") or "")),
        doc_id=ctx.doc.doc_id,
        kind=kind,
        predicate=predicate,
        sentence=ctx.sentence_text(start, end),
        start=start,
        end=end,
        raw_start=raw_start,
        raw_end=raw_end,
        extractor=extractor,
        confidence=confidence,
        **extra,
    )
