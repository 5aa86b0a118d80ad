"""Typed records passed between stages.

Data flows one way: SourceFile -> RawDocument -> CleanDocument -> RepairedDocument
-> Extraction (entities, mentions, timexes, claims) -> ClaimGroup -> Verdict.
Every record is a frozen dataclass; stages build new records, never mutate old ones.
Offsets are Python ``str`` indices, end exclusive.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property


@dataclass(frozen=True)
class OffsetMap:
    """Piecewise map from a derived text back to the text it was derived from.

    ``segments`` are ``(dst_start, dst_end, src_start, src_end)`` tuples sorted by
    ``dst_start``. A segment whose two lengths are equal maps character by character;
    any other segment (a replacement) maps every offset inside it to its whole source span.
    Offsets in gaps between segments snap to the nearest segment edge.
    """

    segments: tuple[tuple[int, int, int, int], ...] = ()

    @staticmethod
    def identity(length: int) -> OffsetMap:
        return OffsetMap(((0, length, 0, length),))

    @cached_property
    def _starts(self) -> list[int]:
        return [s[0] for s in self.segments]

    def _point(self, pos: int, *, is_end: bool) -> int:
        if not self.segments:
            return pos
        starts = self._starts
        # a start offset belongs to the last segment opening at or before it; an end offset to the
        # last segment opening strictly before it (the one that closes there)
        i = bisect.bisect_left(starts, pos) - 1 if is_end else bisect.bisect_right(starts, pos) - 1
        i = max(i, 0)
        d0, d1, s0, s1 = self.segments[i]
        if pos <= d0:
            return s0
        if pos >= d1:
            return s1
        if d1 - d0 == s1 - s0:
            return s0 + (pos - d0)
        return s1 if is_end else s0

    def to_source(self, start: int, end: int) -> tuple[int, int]:
        """Map the span ``[start, end)`` of the derived text to a span of the source text."""
        a = self._point(start, is_end=False)
        b = self._point(end, is_end=True)
        return (a, max(a, b))

    def then(self, outer: OffsetMap) -> OffsetMap:
        """Compose: self maps C->B, outer maps B->A; the result maps C->A."""
        segs = []
        for d0, d1, s0, s1 in self.segments:
            if d1 - d0 == s1 - s0 and d1 > d0:
                # split an exact segment wherever the outer map changes segment
                cut = d0
                for o0, o1, _a0, _a1 in outer.segments:
                    lo, hi = max(o0, s0), min(o1, s1)
                    if lo >= hi:
                        continue
                    x0, x1 = d0 + (lo - s0), d0 + (hi - s0)
                    a0, a1 = outer.to_source(lo, hi)
                    segs.append((x0, x1, a0, a1))
                    cut = x1
                if cut == d0:
                    a0, a1 = outer.to_source(s0, s1)
                    segs.append((d0, d1, a0, a1))
            else:
                a0, a1 = outer.to_source(s0, s1)
                segs.append((d0, d1, a0, a1))
        return OffsetMap(tuple(segs))


@dataclass(frozen=True)
class SourceFile:
    """A file found under the raw folder, before it is read."""

    source_path: str  # path relative to the raw folder, POSIX separators
    abs_path: str
    size_bytes: int
    mtime: float


@dataclass(frozen=True)
class SourceMeta:
    """Optional metadata a user supplies per file (NAME.meta.json or raw/sources.csv)."""

    url: str | None = None
    outlet: str | None = None
    author: str | None = None
    published_at: date | None = None


@dataclass(frozen=True)
class RawDocument:
    """A decoded source file. ``raw_text`` is the file's text as decoded (markup for HTML)."""

    doc_id: str
    source_path: str
    content_sha256: str
    raw_text: str
    media_type: str  # "text" | "html"
    encoding: str
    size_bytes: int
    meta: SourceMeta = field(default_factory=SourceMeta)


@dataclass(frozen=True)
class Quarantined:
    """An input the pipeline could not take, with a reason a person understands."""

    source_path: str
    reason: str  # short code: empty, binary, undecodable, too_large, unreadable, vanished, ...
    detail: str  # one sentence: what was found and what to do
    content_sha256: str | None = None
    size_bytes: int | None = None


@dataclass(frozen=True)
class BoilerplateHit:
    """A piece of site chrome cleaning removed, with the rule that removed it."""

    doc_id: str
    raw_start: int
    raw_end: int
    text: str
    rule_id: str
    reason: str


@dataclass(frozen=True)
class CleanDocument:
    """Article text without markup and boilerplate; ``clean_to_raw`` maps back to raw_text."""

    doc: RawDocument
    title: str | None
    clean_text: str
    clean_to_raw: OffsetMap
    removed: tuple[BoilerplateHit, ...] = ()


@dataclass(frozen=True)
class Edit:
    """One repair proposed for a spun document, with its evidence.

    ``clean_start``/``clean_end`` index ``clean_text``; ``applied`` is False for a
    low-confidence suggestion that was recorded but not made.
    """

    doc_id: str
    clean_start: int
    clean_end: int
    original: str
    replacement: str
    rule: str  # rule id or evidence kind: "table:<id>", "align:<doc_id>", "entity:<name>", ...
    evidence: str
    confidence: float
    applied: bool = True


@dataclass(frozen=True)
class SentenceSpin:
    """Spin score of one sentence of clean_text, with the signals that raised it."""

    start: int
    end: int
    score: float
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepairedDocument:
    """A cleaned document after despinning; ``norm_to_clean`` maps normalized -> clean offsets."""

    clean: CleanDocument
    normalized_text: str
    norm_to_clean: OffsetMap
    spin_score: float
    is_spun: bool
    edits: tuple[Edit, ...] = ()
    sentences: tuple[SentenceSpin, ...] = ()

    @property
    def doc_id(self) -> str:
        return self.clean.doc.doc_id

    def norm_to_raw(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of normalized_text to raw_text."""
        c0, c1 = self.norm_to_clean.to_source(start, end)
        return self.clean.clean_to_raw.to_source(c0, c1)


@dataclass(frozen=True)
class Timex:
    """A TIMEX3-style temporal expression found in a text.

    ``value`` follows TimeML (``2016``, ``2010-07``, ``2021-12-03``, ``XXXX-01`` for an
    unanchored January, ``P9Y`` for a duration, ``PRESENT_REF``). ``time_start``/``time_end``
    is the interval a DATE denotes (end exclusive), None when unknown.
    """

    start: int
    end: int
    text: str
    type: str  # DATE | TIME | DURATION | SET
    value: str
    granularity: str | None  # day | week | month | quarter | season | year | decade | century
    time_start: date | None = None
    time_end: date | None = None
    anchored: bool = True  # False when the year (or more) could not be determined
    rule: str = ""
    mod: str | None = None  # TimeML mod: BEFORE, AFTER, APPROX, START, END, ...


@dataclass(frozen=True)
class DocumentDate:
    """The date a document was published, and how it was found."""

    published_at: date | None
    basis: str  # "metadata" | "text:<rule>" | "bounded:<reason>" | "unknown"
    not_before: date | None = None  # for bounded dates: the earliest plausible date


@dataclass(frozen=True)
class Entity:
    """A person, organisation, place, work or event, possibly mentioned in many documents."""

    entity_id: str
    name: str  # canonical (longest) form
    type: str  # PERSON | ORG | PLACE | WORK | OUTLET | EVENT | OTHER
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    """One mention of an entity in a document's normalized_text."""

    doc_id: str
    entity_id: str
    start: int
    end: int
    text: str


# the fields that say when a claim happened, copied together when one claim lends its time to another
CLAIM_TIME_FIELDS = ("time_text", "time_value", "time_start", "time_end", "granularity", "time_anchored")


@dataclass(frozen=True, slots=True)
class Claim:
    """One thing one source asserts, with its evidence.

    kind: "quote" (speaker said quote_text) | "event" (subject predicate object, at place/time)
    | "fact" (attribute, count, role, relation). Offsets index normalized_text; raw offsets
    index raw_text. modality: asserted | reported | denied | hedged.
    """

    claim_id: str
    doc_id: str
    kind: str
    subject: str | None
    predicate: str
    object: str | None
    sentence: str
    start: int
    end: int
    raw_start: int
    raw_end: int
    extractor: str
    confidence: float
    subject_entity_id: str | None = None
    object_entity_id: str | None = None
    quote_text: str | None = None
    venue: str | None = None
    outlet: str | None = None
    place: str | None = None
    time_text: str | None = None
    time_value: str | None = None
    time_start: date | None = None
    time_end: date | None = None
    granularity: str | None = None
    time_anchored: bool | None = None
    modality: str = "asserted"
    polarity: bool = True
    number: float | None = None


@dataclass(frozen=True)
class Extraction:
    """Everything extraction found in one document."""

    doc_id: str
    date: DocumentDate
    timexes: tuple[Timex, ...] = ()
    mentions: tuple[Mention, ...] = ()
    claims: tuple[Claim, ...] = ()
    entities: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class ClaimGroup:
    """Claims from one or more documents about the same thing; ``group_key`` is stable."""

    group_key: str
    kind: str  # time | place | number | first | quote | person | value
    label: str  # human label: "Ada Brennagh — said — 'no plans to resign...'"
    claims: tuple[Claim, ...]
    rule: str = ""  # the blocking/matching rule that formed the group


@dataclass(frozen=True)
class Verdict:
    """The comparison of one group: agree, compatible or conflict, and why."""

    conflict_id: str
    group_key: str
    kind: str
    verdict: str  # agree | compatible | conflict
    severity: str  # none | low | medium | high
    summary: str
    explanation: str
    claim_ids: tuple[str, ...]
    likely_value: str | None = None
    confidence: float | None = None
    positions: Mapping[str, str] = field(default_factory=dict)  # claim_id -> value it states
