"""Events and facts: who did what to whom, where and when; firsts, counts, ages, roles, relations.

Needs: a DocContext (text, layout, resolved mentions, timexes, quote spans already set by the
quote extractor) and the predicate, modality, count-noun and number lexicons under rules/extract.
Adds: ``kind="event"`` claims (normalized predicate lemma, subject, object, place, time from the
temporal tagger, modality/polarity from cue words; plural subjects such as "they both" give one
claim per resolved person; "X and Y got married" gives X married Y for reciprocal predicates) and
``kind="fact"`` claims (``first:<noun>``, ``count:<noun>``, ``plays``, ``age``, ``dated``). Which
phrase means what, and how each fills its slots, is data (rules/extract/predicates.tsv); sentences
without any of its words are skipped before its patterns run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from flows.errors import RuleError
from flows.extract.context import DocContext, make_claim
from flows.extract.entities import APOS, Candidate, cues
from flows.records import Claim
from flows.rules import load_table
from flows.settings import ExtractSettings

_BOUNDARY = re.compile(r"[;:]|,\s+(?:while|and|but|whereas|although|though|after|before|when)\b|\s(?:while|whereas|but|when|because|although)\s|\s(?:[\u2014\u2013-]|--)\s")
_PRONOUN = re.compile(r"\b(he|she|it|they)\b", re.IGNORECASE)
_PLURAL = re.compile(r"\b(?:they both|both (?:of them|actors|stars|men|women)|both|the pair|the two|the couple|the actors|the duo|they)\s*$", re.IGNORECASE)
_WORK_NP = re.compile(r"\b(?:the|its|this) (?:\w+ )?(?:show|series|sitcom|version|film|movie|book|play|album)\s*$", re.IGNORECASE)
# words of the predicate patterns too common to gate on: every row also has a content word
_WORD = re.compile(r"[A-Za-z]+")
_AUXILIARIES = frozenset(
    ["was", "were", "is", "are", "has", "have", "had", "been", "be", "being", "the", "her", "his", "their", "its", "and", "to", "in", "at", "on", "with", "of", "from", "as", "a", "an", "new", "first", "herself", "himself", "themselves", "not", "did", "do", "does", "didn", "don", "never", "ever", "t", "for", "up", "down", "away", "into", "out", "by"]
)
_SUBJECT_TYPES = ("PERSON", "ORG", "WORK", "OTHER", "OUTLET", "EVENT")
# words that end a verb's direct object slot: prepositions and conjunctions
_NOT_BETWEEN = frozenset(
    ["at", "in", "on", "from", "for", "during", "after", "before", "since", "by", "near", "through", "into", "over", "about", "with", "without", "of", "to", "while", "when", "and", "but", "or", "as", "than"]
)
_ON = re.compile(r"[^.;!?]{0,60}?\bon\s+(?:the\s+)?")
_IN_AT = re.compile(r"[^.;!?]{0,40}?\b(?:in|at)\s+")
# what may stand between a subject and its verb: an apposition (", 33,", ", of Burnsville,"), auxiliaries,
# adverbs, a closing quote mark after a quoted title, a relative "who" ("Mark Doyle, who was fired")
_FILLER = re.compile(r"[\s,\"\u201d'\u2019]*(?:,[^,;.!?\"\u201c\u201d]{1,50},\s*)?(?:who\s+|which\s+)?(?:(?:has|have|had|was|were|is|are|also|then|later|both|just|finally|never|ever|not|n't|first|reportedly|allegedly|\w+ly)\s*)*")
# the words between a predicate and the next, when the next shares its subject: no new name or clause
_AND_VP = re.compile(r"[^.;!?\"\u201c]{0,60}?\sand\s+(?:(?:was|were|is|are|has|had|have|then|later|also)\s+)?\S{0,4}")
_LEAD_CLAUSE = re.compile(r"(?:After|Before|Since|When|While|Although|Though|Because|If|Until|Once|As)\b[^,;.!?]{1,150},\s*")
_OTHER_TIME = re.compile(r"\b(?:since|after|before|until|following|when|while|because)\b", re.IGNORECASE)


# a relative clause set off by commas ("X, who swam to fame in the 1940s, dies at 91"): its times date its own verb
_RELATIVE_CLAUSE = re.compile(r",\s*(?:who|which|whose|whom)\b[^,;.!?\"\u201c\u201d]{1,200},")


def _time_ok(text: str, va: int, vb: int, s_start: int, s_end: int):
    """A filter for the times of a predicate's sentence: one after the verb with "since", "after", ... between
    dates another event, and so does one inside a relative clause that does not hold the verb."""
    inner = [m.span() for m in _RELATIVE_CLAUSE.finditer(text, s_start, s_end) if not m.start() <= va < m.end()]
    return lambda t: (t.start < vb or not _OTHER_TIME.search(text, vb, t.start)) and not any(a <= t.start < b for a, b in inner)


_SUBORDINATORS = frozenset(["after", "before", "until", "when", "while", "that", "because", "since", "if", "as", "who", "which", "whereas", "although", "though", "unless"])
_APPOSITION_TAIL = re.compile(r",[^,;.!?\"\u201c\u201d]{1,60},\s*(?:(?:has|have|had|was|were|is|are|also|then|later|\w+ly)\s+)*$")
_RELATIVE = re.compile(r"[\s,]*(?:who|which|that)\b")
_RECIPROCAL_BLOCK = re.compile(r"\bboth\b|\beach\b", re.IGNORECASE)


@dataclass(frozen=True)
class Predicate:
    predicates: tuple[str, ...]
    kind: str
    slot: str
    confidence: float
    reciprocal: bool
    object_from: frozenset[str]
    requires_object: bool


@dataclass(frozen=True)
class Lexicon:
    master: re.Pattern[str]
    predicates: tuple[Predicate, ...]
    hedges: re.Pattern[str]
    negations: re.Pattern[str]
    numbers: dict[str, float]
    count_re: re.Pattern[str]
    count_nouns: dict[str, tuple[str, str]]
    triggers: frozenset[str]  # a sentence without any of these words cannot match the predicate lexicon
    count_triggers: frozenset[str]
    # per ASCII letter, the master without the rows that cannot start with it (None: no row can); empty when the
    # rows could not be analysed, and then the master is tried everywhere
    by_letter: dict[str, re.Pattern[str] | None]


# a passive or participle reading of a verb form ("was also killed", "O'Brien, fired on June 8"): its subject is the patient
_PASSIVE_BEFORE = re.compile(
    r"(?:\b(?:was|were|is|are|been|be|being|get|gets|got)\s+(?:(?:also|never|not|just|then|later|since|\w+ly)\s+)*|,\s*)$",
    re.IGNORECASE,
)
# a headline's passive without its auxiliary ("Ivo Marn arrested after crash", "Dana Quill sacked after six
# defeats"): the verb is followed by an adjunct or ends the clause. Not "on" or "at", which follow active
# senses too ("fired on the crowd", "fired at the deputy", "killed at least three")
_BARE_PASSIVE_AFTER = re.compile(
    r"\s*(?:[.:;!?\u2014]|--|$)|\s+(?:for|in|after|over|amid|following|during|outside|near|as)\b", re.IGNORECASE
)
_SLOTS = ("object", "patient", "place", "on", "none")  # what the first name after a predicate's phrase fills


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The predicate lexicon as one alternation (group gN = row N) plus modality and count cues."""
    req = ("source", "example")
    rows = load_table("extract/predicates.tsv", ("pattern", "predicate", "kind", "slot", "confidence", "reciprocal", "object_from", "requires_object", *req))
    for r in rows:
        if r["slot"] not in _SLOTS:
            raise RuleError(f"rule file extract/predicates.tsv: slot {r['slot']!r} of {r['pattern']!r} is not one of {', '.join(_SLOTS)}")
    master = _alternation([(i, r["pattern"]) for i, r in enumerate(rows)])
    preds = tuple(
        Predicate(
            tuple(r["predicate"].split("+")), r["kind"], r["slot"], float(r["confidence"]), r["reciprocal"] == "yes",
            frozenset(x for x in r["object_from"].split(",") if x), r["requires_object"] == "yes",
        )  # fmt: skip
        for r in rows
    )
    mod = load_table("extract/modality_cues.tsv", ("cue", "modality", "scope", *req))
    hedges = "|".join(r["cue"] for r in mod if r["modality"] == "hedged" and r["scope"] == "sentence")
    neg = "|".join(r["cue"] for r in mod if r["modality"] == "denied" and r["scope"] == "before")
    numbers = {r["word"]: float(r["value"]) for r in load_table("extract/number_words.tsv", ("word", "value", *req))}
    nouns = {r["noun"]: (r["lemma"], r["subject_type"]) for r in load_table("extract/count_nouns.tsv", ("noun", "lemma", "subject_type", *req))}
    num_alt = "|".join(sorted(numbers, key=len, reverse=True))
    count_re = re.compile(
        rf"\b(?P<num>\d{{1,4}}|{num_alt})(?:\s+of\s+(?:its|their|the)|\s+[a-z]+)?\s+(?P<noun>{'|'.join(nouns)})\b", re.IGNORECASE
    )
    triggers: set[str] = set()
    for r in rows:
        words = {w for w in re.findall(r"[a-z]+", r["pattern"].lower()) if len(w) > 1}  # one letter: a regex escape (\w, \u2019)
        content = words - _AUXILIARIES
        triggers |= content or words  # a row made only of auxiliaries keeps them all
    return Lexicon(
        master,
        preds,
        re.compile(rf"\b(?:{hedges})", re.IGNORECASE),
        re.compile(rf"(?:\b(?:{neg})\b|n't\b)", re.IGNORECASE),
        numbers,
        count_re,
        nouns,
        frozenset(triggers),
        frozenset(n.lower() for n in nouns),
        _by_letter([r["pattern"] for r in rows]),
    )


def _alternation(rows: list[tuple[int, str]]) -> re.Pattern[str]:
    """The word-bounded alternation of predicate rows, group gN = row N."""
    return re.compile(r"\b(?:" + "|".join(f"(?P<g{i}>{p})" for i, p in rows) + r")\b", re.IGNORECASE)


_LETTERS = [chr(c) for r in ((65, 91), (97, 123)) for c in range(*r)]
_ASCII_CLASSES = {
    name: frozenset(c for c in map(chr, range(128)) if re.fullmatch(rx, c))
    for rx, names in (
        (r"\d", ("CATEGORY_DIGIT", "CATEGORY_UNI_DIGIT")),
        (r"\D", ("CATEGORY_NOT_DIGIT", "CATEGORY_UNI_NOT_DIGIT")),
        (r"\s", ("CATEGORY_SPACE", "CATEGORY_UNI_SPACE")),
        (r"\S", ("CATEGORY_NOT_SPACE", "CATEGORY_UNI_NOT_SPACE")),
        (r"\w", ("CATEGORY_WORD", "CATEGORY_UNI_WORD")),
        (r"\W", ("CATEGORY_NOT_WORD", "CATEGORY_UNI_NOT_WORD")),
    )
    for name in names
}


def _by_letter(patterns: list[str]) -> dict[str, re.Pattern[str] | None]:
    """Per ASCII letter, the master of only the rows whose match can start with that letter, in row order.

    At a word start the master takes the first row that matches there (then the final ``\\b``, backtracking to
    later rows); a row whose match cannot start with the letter there fails anyway, so leaving it out changes
    no result. Empty (use the master) when a row holds a numbered backreference (renumbered once rows are left
    out) or the parser is unavailable.
    """
    if any(re.search(r"\\[1-9]|\(\?P=", p) for p in patterns):
        return {}
    try:
        from re import _parser  # the standard library's own regex parser: what a pattern can start with

        firsts = [_first_chars(_parser.parse(p, re.IGNORECASE)) for p in patterns]
    except (ImportError, AttributeError, re.error, TypeError, ValueError, IndexError):
        return {}
    compiled: dict[tuple[int, ...], re.Pattern[str] | None] = {}
    out: dict[str, re.Pattern[str] | None] = {}
    for ch in _LETTERS:
        keep = tuple(i for i, (f, nullable) in enumerate(firsts) if f is None or nullable or ch in f)
        if keep not in compiled:
            compiled[keep] = _alternation([(i, patterns[i]) for i in keep]) if keep else None
        out[ch] = compiled[keep]
    return out


def _first_chars(items) -> tuple[frozenset[str] | None, bool]:  # noqa: ANN001, C901 - a parsed regex (re._parser)
    """(ASCII characters a match of this parsed sequence can start with, whether it can match empty).

    None means "any character": wherever the analysis is unsure (non-ASCII literals, which case folding may
    match to ASCII letters; negations; backreferences; nodes it does not know), so the set is never too small.
    Letters count in both cases (the predicate lexicon ignores case).
    """
    from re import _constants as sre

    first: set[str] = set()
    for op, av in items:
        nullable = False
        if op is sre.LITERAL:
            if av >= 128:
                return None, False
            chars: frozenset[str] | None = frozenset({chr(av), chr(av).lower(), chr(av).upper()})
        elif op is sre.IN:
            acc: set[str] = set()
            for cop, cav in av:
                if cop is sre.LITERAL and cav < 128:
                    acc |= {chr(cav), chr(cav).lower(), chr(cav).upper()}
                elif cop is sre.RANGE and cav[1] < 128:
                    acc |= {x for c in map(chr, range(cav[0], cav[1] + 1)) for x in (c, c.lower(), c.upper())}
                elif cop is sre.CATEGORY and str(cav) in _ASCII_CLASSES:
                    acc |= _ASCII_CLASSES[str(cav)]
                else:
                    return None, False
            chars = frozenset(acc)
        elif op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            chars, nullable = frozenset(), True  # zero-width: the next item consumes the first character
        elif op is sre.SUBPATTERN:
            chars, nullable = _first_chars(av[-1])
        elif op is sre.ATOMIC_GROUP:
            chars, nullable = _first_chars(av)
        elif op is sre.BRANCH:
            parts = [_first_chars(b) for b in av[1]]
            if any(c is None for c, _ in parts):
                return None, False
            chars, nullable = frozenset().union(*(c for c, _ in parts)), any(n for _, n in parts)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            chars, nullable = _first_chars(av[2])
            nullable = nullable or av[0] == 0
        else:
            return None, False
        if chars is None:
            return None, False
        first |= chars
        if not nullable:
            return frozenset(first), False
    return frozenset(first), True


def _matches(lex: Lexicon, text: str, a: int, b: int, reach: int) -> Iterator[re.Match[str]]:
    """Predicate-lexicon matches in [a, b), scanning only windows around trigger words (a phrase starts at
    most ``reach`` characters before its trigger word), in order and without overlaps."""
    windows: list[list[int]] = []
    for w in _WORD.finditer(text, a, b):
        if w.group().lower() in lex.triggers:
            lo, hi = max(a, w.start() - reach), min(b, w.end() + reach)
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = hi
            else:
                windows.append([lo, hi])
    last = a
    for lo, hi in windows:
        # every phrase starts with a word, so only word starts are tried (as finditer would, minus the rest)
        for w in _WORD.finditer(text, max(lo, last), hi):
            if w.start() < last:
                continue
            rx = lex.by_letter.get(text[w.start()], lex.master) if lex.by_letter else lex.master
            m = rx.match(text, w.start(), hi) if rx is not None else None
            if m:
                last = m.end()
                yield m


def _clause(ctx: DocContext, s_start: int, s_end: int, va: int, vb: int) -> tuple[int, int]:
    """The clause around a predicate: between boundaries (semicolons, ", while", " because ", dashes), after
    a sentence-opening subordinate clause ("After she left X on Thursday, Y checked into Z")."""
    text = ctx.text
    a = s_start
    lead = _LEAD_CLAUSE.match(text, s_start, va)
    if lead:
        a = lead.end()
    for m in _BOUNDARY.finditer(text, a, va):
        a = m.end()
    m = _BOUNDARY.search(text, vb, s_end)
    return a, (m.start() if m else s_end)


def _coordinated(ctx: DocContext, c: Candidate) -> list[Candidate]:
    """'X and Y' (or 'X & Y'): the persons coordinated with mention c, c last."""
    before = ctx.mentions_in(max(0, c.start - 60), c.start)
    between = ctx.text[before[-1].end : c.start] if before else ""
    words = between.split()
    # "X and Y", "X & Y", "X and actor Y" (a role noun before the second name)
    if before and words and words[0] in ("and", "&") and all(w in ("also",) or w.lower() in cues().roles for w in words[1:]) and len(words) <= 3:
        x = before[-1]
        if ctx.entity(x).type == ctx.entity(c).type == "PERSON" and x.entity_id != c.entity_id:
            return [x, c]
    return [c]


def _last_work(ctx: DocContext, a: int, pos: int) -> Candidate | None:
    works = [m for m in ctx.mentions_in(a, pos) if ctx.entity(m).type == "WORK"]
    return works[-1] if works else None


class _Plural:
    """Who 'they both' refers to: the subjects of the previous sentence's claims, or a named pair."""

    def __init__(self) -> None:
        self.prev_subjects: list[Candidate] = []
        self.cur_subjects: list[Candidate] = []
        self.cur_sentence = -1

    def sentence(self, si: int) -> None:
        if si != self.cur_sentence:
            if self.cur_subjects:
                self.prev_subjects = self.cur_subjects
            self.cur_subjects = []
            self.cur_sentence = si

    def add(self, c: Candidate) -> None:
        if all(x.entity_id != c.entity_id for x in self.cur_subjects):
            self.cur_subjects.append(c)

    def resolve(self, ctx: DocContext, pos: int, settings: ExtractSettings) -> list[Candidate]:
        persons = [c for c in self.prev_subjects if ctx.entity(c).type == "PERSON"]
        if len(persons) >= 2:
            return persons[:2]
        recent = ctx.recent_persons(pos, settings.plural_lookback_sentences)
        for c in reversed(recent):
            pair = _coordinated(ctx, c)
            if len(pair) == 2:
                return pair
        return []


def _subjects(ctx: DocContext, ca: int, va: int, plural: _Plural, settings: ExtractSettings) -> tuple[list[Candidate], str]:
    """Subjects of a predicate at ``va`` in a clause starting at ``ca``, and how they were found."""
    text = ctx.text
    head = text[ca:va]
    # a name after a preposition ("LuAnn Johnson, of Burnsville, was killed") is not the subject
    # (unless a relative pronoun follows it: "replaces Mark Doyle, who was fired")
    mentions = [
        m for m in ctx.mentions_in(ca, va)
        if ctx.entity(m).type in _SUBJECT_TYPES and (ctx.subject_like(m) or _RELATIVE.match(text, m.end, va))
    ]  # fmt: skip
    pm = _PLURAL.search(head)
    last_m = mentions[-1] if mentions else None
    pron = list(_PRONOUN.finditer(head))
    wn = _WORK_NP.search(head)
    cands: list[tuple[int, str, object]] = []
    if last_m is not None:
        cands.append((last_m.end, "mention", last_m))
    if pm:
        cands.append((ca + pm.end(), "plural", pm))
    if pron and pron[-1].group(1).lower() != "they":
        cands.append((ca + pron[-1].end(), "pronoun", pron[-1]))
    if wn:
        cands.append((ca + wn.end(), "work_np", wn))
    if not cands:
        return [], ""
    end, how, obj = max(cands, key=lambda c: c[0])
    # "Deputy Ortiz, 35, with the Gang Unit, was killed": the name before an apposition, not the one inside it
    app = _APPOSITION_TAIL.search(text, ca, va)
    if app and how == "mention" and app.start() < end:
        heads = [m for m in mentions if m.end == app.start()]
        if heads:
            end, obj = heads[-1].end, heads[-1]
    if text[end:va].strip(" ,") and not _FILLER.fullmatch(text, end, va):
        return [], ""
    if how == "mention":
        assert isinstance(obj, Candidate)
        if text[obj.end : obj.end + 2] in ("'s", "\u2019s", '"s'):
            return [], ""  # a possessive ("X's book released") is not the subject
        return _coordinated(ctx, obj), "mention"
    if how == "plural":
        return plural.resolve(ctx, va, settings), "plural"
    if how == "work_np":
        w = _last_work(ctx, 0, va)
        return ([w] if w else []), "work_np"
    assert isinstance(obj, re.Match)
    p = obj.group(1).lower()
    if p == "it":
        w = _last_work(ctx, 0, va)
        return ([w] if w else []), "pronoun"
    r = ctx.resolve_pronoun(p, ca + obj.start())
    return ([r] if r else []), "pronoun"


def _after_mention(ctx: DocContext, vb: int, ce: int, gap: int, types: Iterable[str]) -> Candidate | None:
    for m in ctx.mentions_in(vb, min(ce, vb + gap + 80)):
        if m.start - vb > gap:
            return None
        between = ctx.text[vb : m.start]
        if re.search(r"[.;!?]", between):
            return None
        if ctx.entity(m).type in types:
            return m
    return None


def _direct_mention(ctx: DocContext, vb: int, ce: int, types: Iterable[str]) -> Candidate | None:
    """The name right after a verb phrase: at most a few determiners, adjectives or role nouns between,
    never a preposition or punctuation ("wed writer Ivo Tarkanian", not "married at a friend's home")."""
    for m in ctx.mentions_in(vb, ce):
        words = ctx.text[vb : m.start].split()
        if len(words) > 3 or any(not w.isalpha() or not w.islower() or w in _NOT_BETWEEN for w in words):
            return None
        if ctx.entity(m).type in types:
            return m
        return None
    return None


def _modality(lex: Lexicon, text: str, s_start: int, s_end: int, ca: int, va: int, vb: int, window: int) -> tuple[str, bool]:
    """denied when a negation governs the verb (inside its phrase, or a few words before it with no clause
    opener between: "never entered ... after Nichols was sentenced" does not deny the sentencing); hedged when
    the sentence carries a hedge cue; else asserted."""
    for m in lex.negations.finditer(text, ca, vb):
        between = text[m.end() : va].split() if m.end() <= va else []
        if len(between) <= window and not any(w.lower().strip(",") in _SUBORDINATORS for w in between):
            return "denied", False
    if lex.hedges.search(text, s_start, s_end):
        return "hedged", True
    return "asserted", True


def extract_events(ctx: DocContext, settings: ExtractSettings) -> list[Claim]:
    """Event claims and 'dated' facts from the predicate lexicon, one per resolved subject."""
    lex = lexicon()
    text = ctx.text
    out: list[Claim] = []
    plural = _Plural()
    seen: set[tuple[str, str, int]] = set()
    for si, s in enumerate(ctx.layout.sentences):
        plural.sentence(si)
        if text[s.start : s.end].rstrip("\"\u201d' ").endswith("?"):
            continue
        last: tuple[list[Candidate], int] | None = None  # subjects of the sentence's last predicate, its end
        if lex.triggers.isdisjoint(ctx.sentence_words(si)):
            continue
        for m in _matches(lex, text, s.start, s.end, settings.predicate_window_chars):
            if ctx.in_quote(m.start()) or not m.lastgroup:
                continue
            pred = lex.predicates[int(m.lastgroup[1:])]
            va, vb = m.span()
            ca, ce = _clause(ctx, s.start, s.end, va, vb)
            subjects, how = _subjects(ctx, ca, va, plural, settings)
            if not subjects and last is not None and _AND_VP.fullmatch(text[last[1] : va] + m.group(0)[:4].lower()):
                subjects, how = last[0], "coordinated"  # "X was born in A and raised in B"
            obj, place = _slots(ctx, pred, vb, ce)
            if pred.slot == "patient":
                if obj is not None:
                    # the one it happened to is the subject, as in the passive ("Smith was arrested"); the agent, the object
                    subjects, obj, how = [obj], (subjects[0] if len(subjects) == 1 else None), "patient"
                elif not (
                    _PASSIVE_BEFORE.search(text, max(ca, va - 40), va)
                    or _bare_passive(ctx, subjects, how, va, vb, ce)
                ):
                    continue  # "police arrested a man", "she fired at them": no one named it happened to
            if not subjects:
                continue
            last = (subjects, vb)
            if pred.requires_object and obj is None and place is None:
                continue
            # else a time that opens the sentence ("In 2010, ...: X wed Y"), never one from a later clause or an
            # opening subordinate clause; a time after "since"/"after" ... dates something else
            keep = _time_ok(text, va, vb, s.start, s.end)
            time = ctx.time_near(ca, ce, va, keep)
            if time is None and not _LEAD_CLAUSE.match(text, s.start, va):
                time = ctx.time_near(s.start, ca, va, keep)
            modality, polarity = _modality(lex, text, s.start, s.end, ca, va, vb, settings.negation_window_words)
            if (
                pred.reciprocal and obj is None and len(subjects) == 2 and how == "mention"
                and not _RECIPROCAL_BLOCK.search(text, ca, min(ce, vb + 12))
                and not re.match(r"\s+(?:to|with)\b", text[vb : vb + 6]) and not re.search(r"\b(?:to|with)$", m.group(0))
            ):  # fmt: skip
                pairs = [(subjects[0], subjects[1])]  # "X and Y got married": X married Y
            else:
                pairs = [(sub, obj) for sub in subjects]
            for sub, o in pairs:
                if o is not None and o.entity_id == sub.entity_id:
                    o = None
                for name in pred.predicates:
                    key = (name, sub.entity_id, si)
                    if key in seen:
                        continue
                    seen.add(key)
                    plural.add(sub)
                    a = va if how == "plural" else min(sub.start, va, o.start if o else va)
                    b = max(vb, sub.end, o.end if o else vb, place.end if place else vb)
                    claim = make_claim(
                        ctx, pred.kind, name, a, b, f"events.lexicon:{how}",
                        pred.confidence * (settings.plural_confidence_factor if how in ("plural", "pronoun") else 1.0),
                        subject=sub, obj=o, time=time, place=ctx.entity(place).name if place else None,
                        modality=modality, polarity=polarity,
                    )  # fmt: skip
                    if o is None and pred.object_from and how in ("plural", "pronoun") and si > 0:
                        claim = _inherit_object(ctx, claim, out, ctx.layout.sentences[si - 1], pred.object_from)
                    out.append(claim)
    return out


def _bare_passive(ctx: DocContext, subjects: list[Candidate], how: str, va: int, vb: int, ce: int) -> bool:
    """A headline's passive with no auxiliary: one person named right before the verb, an adjunct or the
    clause's end right after it ("Ivo Marn arrested after crash")."""
    if how != "mention" or len(subjects) != 1 or ctx.entity(subjects[0]).type != "PERSON":
        return False
    return not ctx.text[subjects[0].end : va].strip() and _BARE_PASSIVE_AFTER.match(ctx.text[vb:ce]) is not None


def _slots(ctx: DocContext, pred: Predicate, vb: int, ce: int) -> tuple[Candidate | None, Candidate | None]:
    """Object and place of a predicate whose phrase ends at ``vb`` in a clause ending at ``ce``."""
    text = ctx.text
    obj = place = None
    if pred.slot in ("object", "patient"):
        obj = _direct_mention(ctx, vb, ce, _SUBJECT_TYPES + ("PLACE",))
        if obj is not None and ctx.entity(obj).type == "PLACE":
            obj, place = None, obj
    elif pred.slot == "place":
        # the place follows the phrase ("raised in Boston"), not some later "in" ("born in increased in Boston")
        place = _direct_mention(ctx, vb, ce, ("PLACE", "OTHER", "ORG"))
    elif pred.slot == "on":
        m = _ON.match(text, vb, ce)
        c = ctx.mention_at(m.end()) if m else None
        obj = c if c is not None and ctx.entity(c).type in ("OUTLET", "ORG", "OTHER") else None
    if place is None and pred.slot != "place":
        m = _IN_AT.match(text, vb, ce)
        if m:
            place = _after_mention(ctx, m.end(), ce, 25, ("PLACE",))
    return obj, place


def _inherit_object(ctx: DocContext, claim: Claim, out: list[Claim], prev, preds: frozenset[str]) -> Claim:
    """A subject-only claim ("they both got married") takes the object of the same subject's claim in the
    previous sentence ("A met B in 2008"), when that claim's predicate leads to this one."""
    for c in reversed(out):
        if prev.start <= c.start < prev.end and c.subject_entity_id == claim.subject_entity_id and c.predicate in preds and c.object:
            return replace(
                claim, object=c.object, object_entity_id=c.object_entity_id, extractor=claim.extractor + "+object_from_previous",
            )  # fmt: skip
    return claim


def find_roles(text: str, cands: list[Candidate], persons: set[str]) -> list[tuple[Candidate, Candidate, int, int]]:
    """(actor, character, start, end): "Character (Actor)" and "Actor as Character" with a full-name actor."""
    by_start = {c.start: c for c in cands}
    out = []
    for i, c in enumerate(cands):
        nxt = cands[i + 1] if i + 1 < len(cands) else None
        if nxt is None:
            continue
        between = text[c.end : nxt.start]
        if re.fullmatch(r"(?:[" + APOS + r"]s)?\s*\(", between) and text[nxt.end : nxt.end + 1] == ")":
            actor, ch = nxt, c
        elif between == " as " and len(c.text.split()) >= 2:
            actor, ch = c, nxt
        else:
            continue
        if len(actor.text.split()) >= 2 and actor.text.split()[-1] != ch.text.split()[-1] and actor.text not in persons - {actor.text}:
            out.append((actor, ch, min(c.start, nxt.start), max(c.end, nxt.end) + (1 if text[nxt.end : nxt.end + 1] == ")" else 0)))
    del by_start
    return out


def extract_facts(ctx: DocContext, roles: list[tuple[Candidate, Candidate, int, int]], settings: ExtractSettings) -> list[Claim]:
    """first:<noun>, count:<noun>, age and plays facts of one document."""
    lex = lexicon()
    text = ctx.text
    out: list[Claim] = []
    for actor, ch, a, b in roles:
        out.append(make_claim(ctx, "fact", "plays", a, b, "facts.plays", settings.fact_confidence, subject=actor, obj=ch))
    owners: dict[str, list[Candidate]] = {}  # noun -> owners of the last "first <noun>" claim
    for si, s in enumerate(ctx.layout.sentences):
        if text[s.start : s.end].rstrip("\"\u201d' ").endswith("?"):
            continue
        words = ctx.sentence_words(si)
        if "first" in words:
            out += _firsts(ctx, s.start, s.end, owners, settings)
        for m in lex.count_re.finditer(text, s.start, s.end) if not lex.count_triggers.isdisjoint(words) else ():
            if ctx.in_quote(m.start()):
                continue
            lemma, stype = lex.count_nouns[m.group("noun").lower()]
            num = m.group("num").lower()
            value = float(num) if num.isdigit() else lex.numbers[num]
            subj = [c for c in ctx.mentions_in(s.start, s.end) if ctx.entity(c).type == stype and not ctx.in_quote(c.start)]
            if not subj:
                continue
            sub = min(subj, key=lambda c: abs(c.start - m.start()))
            out.append(
                make_claim(ctx, "fact", f"count:{lemma}", m.start(), m.end(), "facts.count", settings.fact_confidence, subject=sub, number=value)
            )
        for c in ctx.mentions_in(s.start, s.end):
            m = _AGE.match(text, c.end)
            if m and ctx.entity(c).type == "PERSON" and not ctx.in_quote(c.start):
                out.append(
                    make_claim(ctx, "fact", "age", c.start, m.end(1), "facts.age", settings.fact_confidence, subject=c, number=float(m.group(1)))
                )
    return out


_AGE = re.compile(r",\s(\d{1,3}),")
_FIRST = re.compile(r"(?:[" + APOS + r"]s|\b(?P<pron>[Tt]heir|[Hh]is|[Hh]er))\s+(?:very\s+)?first\s+(?:actual\s+|real\s+|official\s+|on-screen\s+)?(?P<noun>[a-z]+)\s+(?:was|is|came|happened|took place)\s+(?:at|in|on|during)\s+")
_FIRST_REV = re.compile(r"\s+(?:was|is)\s+(?:(?P<pron>their|his|her)|(?P<poss>\S.{0,60}?)[" + APOS + r"]s)\s+(?:very\s+)?first\s+(?P<noun>[a-z]+)\b")


def _firsts(ctx: DocContext, a: int, b: int, owners: dict[str, list[Candidate]], settings: ExtractSettings) -> list[Claim]:
    """"X's first kiss was at Y", "their first kiss was in Y" (their = the owners of the last first kiss
    named) and "Y was X's first kiss": predicate first:<noun>, object Y."""
    text = ctx.text
    out = []
    for m in _FIRST.finditer(text, a, b):
        if ctx.in_quote(m.start()):
            continue
        noun = m.group("noun")
        if m.group("pron"):
            p = m.group("pron").lower()
            subs = owners.get(noun, []) if p == "their" else [r for r in [ctx.resolve_pronoun(p, m.start())] if r]
        else:
            owner = [c for c in ctx.mentions_in(a, m.start() + 1) if c.end == m.start()]
            subs = _coordinated(ctx, owner[-1]) if owner else []
        obj = _obj_after(ctx, m.end(), b)
        if obj is None or not subs:
            continue
        owners[noun] = subs
        out += _first_claims(ctx, subs, noun, obj, min([c.start for c in subs if a <= c.start < m.start()] + [m.start()]), obj.end, settings)
    for m in _FIRST_REV.finditer(text, a, b):
        obj = [c for c in ctx.mentions_in(a, m.start() + 2) if c.end in (m.start(), m.start() - 1)]
        if not obj:
            continue
        subs = []
        if m.group("poss"):
            owner = [c for c in ctx.mentions_in(m.start("poss"), m.end("poss") + 1)]
            subs = _coordinated(ctx, owner[-1]) if owner else []
        out += _first_claims(ctx, subs, m.group("noun"), obj[-1], obj[-1].start, m.end(), settings)
    return out


def _obj_after(ctx: DocContext, pos: int, b: int) -> Candidate | None:
    while pos < b and ctx.text[pos] in "\"\u201c'\u2018":
        pos += 1
    c = ctx.mention_at(pos)
    if c is not None:
        return c
    m = re.compile(r"the\s+(?:show|series|film)[" + APOS + r"]s\s+(?:\w+\s+)?").match(ctx.text, pos)
    return ctx.mention_at(m.end()) if m else None


def _first_claims(ctx: DocContext, subs: list[Candidate], noun: str, obj: Candidate, a: int, b: int, settings: ExtractSettings) -> list[Claim]:
    if not subs:
        return []
    names = " & ".join(sorted(ctx.entity(c).name for c in subs))
    ids = ",".join(sorted(c.entity_id for c in subs))
    claim = make_claim(ctx, "fact", f"first:{noun}", a, b, "facts.first", settings.fact_confidence, subject=subs[0], obj=obj)
    return [replace(claim, subject=names, subject_entity_id=ids)]
