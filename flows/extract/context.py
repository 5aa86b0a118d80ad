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
from collections.abc import Sequence
from dataclasses import dataclass, field

from flows.extract.entities import Candidate
from flows.extract.sentences import Layout
from flows.records import Claim, Entity, RepairedDocument, Timex

PRONOUN_GENDER = {"he": "m", "him": "m", "his": "m", "she": "f", "her": "f", "hers": "f"}
PLURAL_PRONOUNS = frozenset(("they", "them", "their"))
_PRONOUN_AFTER = re.compile(r"\b(he|him|his|she|her|hers)\b", re.IGNORECASE)


@dataclass
class DocContext:
    """One document with everything the claim extractors look up."""

    doc: RepairedDocument
    text: str
    layout: Layout
    mentions: Sequence[Candidate]
    entities: dict[str, Entity]
    timexes: Sequence[Timex]
    quote_spans: list[tuple[int, int]] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    _gender: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mentions = sorted((m for m in self.mentions if m.entity_id), key=lambda m: m.start)
        self._starts = [m.start for m in self.mentions]
        self._gender = self._genders()

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
        return any(a <= pos < b for a, b in self.quote_spans)

    def _genders(self) -> dict[str, str]:
        """Gender of each person entity from the pronouns that follow its mentions most often."""
        votes: dict[str, Counter] = {}
        persons = [m for m in self.mentions if self.entities[m.entity_id].type == "PERSON"]
        for k, m in enumerate(persons):
            stop = persons[k + 1].start if k + 1 < len(persons) else len(self.text)
            s = self.layout.sentences[self.layout.sentence_at(m.start)] if self.layout.sentences else None
            stop = min(stop, s.end if s else stop)
            for p in _PRONOUN_AFTER.finditer(self.text, m.end, stop):
                votes.setdefault(m.entity_id, Counter())[PRONOUN_GENDER[p.group(1).lower()]] += 1
        out = {}
        for eid, c in votes.items():
            (g, n), *rest = c.most_common()
            if not rest or n > rest[0][1]:
                out[eid] = g
        return out

    def resolve_pronoun(self, pronoun: str, pos: int) -> Candidate | None:
        """The most recent person mention before ``pos`` (outside quotes) a he/she pronoun can refer to."""
        want = PRONOUN_GENDER.get(pronoun.lower())
        i = bisect.bisect_left(self._starts, pos) - 1
        while i >= 0:
            m = self.mentions[i]
            if self.entities[m.entity_id].type == "PERSON" and not self.in_quote(m.start):
                g = self._gender.get(m.entity_id)
                if want is None or g is None or g == want:
                    return m
            i -= 1
        return None

    def recent_persons(self, pos: int, limit_sentences: int) -> list[Candidate]:
        """Distinct persons mentioned (outside quotes) in the sentence before ``pos`` and up to N before it."""
        si = self.layout.sentence_at(pos)
        lo = self.layout.sentences[max(0, si - limit_sentences)].start if self.layout.sentences else 0
        seen, out = set(), []
        for m in self.mentions_in(lo, pos):
            if self.entities[m.entity_id].type == "PERSON" and not self.in_quote(m.start) and m.entity_id not in seen:
                seen.add(m.entity_id)
                out.append(m)
        return out

    # -- time -----------------------------------------------------------------------------
    def time_near(self, a: int, b: int, pos: int) -> Timex | None:
        """The DATE timex inside [a, b) nearest to ``pos``, outside quotes."""
        best = None
        for t in self.timexes:
            if t.start >= a and t.end <= b and t.type in ("DATE", "TIME") and t.value != "PRESENT_REF" and not self.in_quote(t.start):
                d = min(abs(t.start - pos), abs(t.end - pos))
                if best is None or d < best[0]:
                    best = (d, t)
        return best[1] if best else None

    # -- claims ---------------------------------------------------------------------------
    def sentence_text(self, a: int, b: int) -> str:
        if not self.layout.sentences:
            return self.text[a:b]
        s0 = self.layout.sentences[self.layout.sentence_at(a)]
        s1 = self.layout.sentences[self.layout.sentence_at(max(a, b - 1))]
        return self.text[min(s0.start, a) : max(s1.end, b)]


def claim_id(doc_id: str, kind: str, predicate: str, start: int, end: int) -> str:
    """Deterministic claim id: sha1 of doc, kind, predicate and span, first 16 hex digits."""
    return hashlib.sha1(f"{doc_id}\t{kind}\t{predicate}\t{start}\t{end}".encode()).hexdigest()[:16]


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
        claim_id=claim_id(ctx.doc.doc_id, kind, predicate, start, end),
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
