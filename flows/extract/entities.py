"""Entities: named mentions found by rule, typed by cues, resolved to entities across a batch.

Needs: normalized texts and their sentence layout (flows.extract.sentences).
Adds: per-document mention candidates (capitalised sequences, quoted titles) with type votes from
data cues (rules/extract: person_cues, type_cues, outlet_cues, work_cues, places, stop_caps), then
one batch-wide resolution that merges aliases (full name / surname / given name, a one-letter typo
when unambiguous) into Entity records whose ids are sha1(type, canonical name). Characters named in
"Character (Actor)" and "Actor as Character" stay separate from their actors.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

from wordfreq import zipf_frequency

from flows.extract.sentences import Layout
from flows.records import Entity, Mention
from flows.rules import load_table
from flows.settings import ExtractSettings

TYPES = ("PERSON", "ORG", "PLACE", "WORK", "OUTLET", "EVENT", "OTHER")
APOS = "'\u2019\""  # the straight double quote stands in for a damaged apostrophe in spun copy
_JOIN = r"(?:[ \u00a0](?:of|the|de|van|von|da|del|du|la|le|bin|al)[ \u00a0]|[ \u00a0]|-)"
_POSS = re.compile(r"[" + APOS + r"]s$")
_QUOTED = re.compile(r"(?<![A-Za-z])[\"\u201c'\u2018]([A-Z0-9][^\"\u201c\u201d\u2018\u2019\n]{0,80}?)[,.!?]?[\"\u201d'\u2019](?![A-Za-z])")
_ARTICLE = re.compile(r"^(?:The|A|An)\s+")
_SPUN_APOS = re.compile(r"[\u2019\"]")
_LINE_WORDS = re.compile(r"[A-Za-z][\w'\u2019\"-]*")
_PREV_WORD = re.compile(r"([A-Za-z][\w\-.]*)\W{0,2}$")
_NONSPACE = re.compile(r"\S+")
_CAP_WORD = re.compile(r"[A-Z][\w\-]*")
_POSS_CUT = re.compile(r"[" + APOS + r"]s(?=\s)")
_TAIL_STOP = frozenset(("The", "A", "An", "&", "of", "the"))
# an organisation's acronym (three to five capitals); two-letter ones are as often a person's initials ("JT Ruiz")
_ACRONYM = re.compile(r"\b[A-Z]{3,5}\b")
_LOWER_WORD = re.compile(r"\b[a-z]+\b")
# a capital after these opens a sentence (a bracket does not: "Jim (John Smith)" shows "John" as a name)
_INITIAL_BEFORE = re.compile(r"(?:^|[.!?:;\u2026]\s*[\"\u201d\u2019')\]]*\s*|\n\s*|[\"\u201c\u2018]\s*)$")


@lru_cache(maxsize=1)
def _chunk_re() -> re.Pattern[str]:
    """Capitalised runs; a word may end in a period only if it is an initial or a known abbreviation."""
    abbr = sorted(
        {r["abbreviation"] for r in load_table("extract/abbreviations.tsv", ("abbreviation", "source", "example")) if r["abbreviation"][0].isupper()},
        key=len,
        reverse=True,
    )
    cap = r"(?:[A-Z]\.(?:[A-Z]\.)+|" + "|".join(re.escape(a) for a in abbr) + r"|[A-Z][\w\-]*(?:[" + APOS + r"][A-Za-z]+)*|E!)"
    return re.compile(rf"(?=[A-Z]){cap}(?:{_JOIN}{cap})*")  # the lookahead skips non-capitals at once


@dataclass(frozen=True)
class Cues:
    titles: frozenset[str]
    offices: frozenset[str]  # capitalised office titles that precede a name but are not part of it
    portfolios: frozenset[str]  # the department an office heads ("Secretary of Commerce"), not part of the name
    roles: frozenset[str]
    suffix: dict[str, str]
    prefix: dict[str, str]
    inner: dict[str, str]  # closed-class words that make a run a title ("Doctor Who"), never a name
    outlet_words: frozenset[str]
    outlet_after: frozenset[str]
    work_nouns: frozenset[str]
    places: frozenset[str]
    stop: frozenset[str]
    speech: frozenset[str]
    gender: dict[str, str]  # title (as written) or role noun (lowercase) -> "f" | "m"
    work_of: re.Pattern[str]  # "the production of " right before a title


@lru_cache(maxsize=1)
def cues() -> Cues:
    """Entity cue lexicons from rules/extract (loaded once)."""
    req = ("source", "example")
    person = load_table("extract/person_cues.tsv", ("kind", "word", "gender", *req))
    types = load_table("extract/type_cues.tsv", ("position", "word", "type", *req))
    outlets = load_table("extract/outlet_cues.tsv", ("kind", "cue", *req))
    work_nouns = [r["noun"] for r in load_table("extract/work_cues.tsv", ("noun", *req))]
    return Cues(
        titles=frozenset(r["word"] for r in person if r["kind"] in ("title", "office")),
        offices=frozenset(r["word"] for r in person if r["kind"] == "office"),
        portfolios=frozenset(r["word"] for r in person if r["kind"] == "portfolio"),
        roles=frozenset(r["word"].lower() for r in person if r["kind"] == "role"),
        suffix={r["word"]: r["type"] for r in types if r["position"] == "suffix"},
        prefix={r["word"]: r["type"] for r in types if r["position"] == "prefix"},
        inner={r["word"]: r["type"] for r in types if r["position"] == "inner"},
        outlet_words=frozenset(r["cue"] for r in outlets if r["kind"] == "word"),
        outlet_after=frozenset(r["cue"] for r in outlets if r["kind"] == "after"),
        work_nouns=frozenset(work_nouns),
        places=frozenset(r["name"] for r in load_table("extract/places.tsv", ("name", "kind", *req))),
        stop=frozenset(r["word"] for r in load_table("extract/stop_caps.tsv", ("word", *req))),
        speech=frozenset(r["form"] for r in load_table("extract/speech_verbs.tsv", ("form", "predicate", *req))),
        gender={(r["word"] if r["kind"] != "role" else r["word"].lower()): r["gender"] for r in person if r["gender"]},
        work_of=re.compile(r"\b(?:" + "|".join(re.escape(n) for n in work_nouns) + r") of\s+$"),
    )


@dataclass
class Candidate:
    """A mention before resolution: surface span plus type votes from its context."""

    doc_id: str
    start: int
    end: int
    text: str
    votes: Counter = field(default_factory=Counter)
    entity_id: str = ""


def _strip_poss(word: str) -> str:
    """``_POSS.sub("", word)`` without the regex call (it runs for every word of every capitalised run)."""
    if word[-1:] == "s" and len(word) > 1 and word[-2] in APOS:
        return word[:-2]
    return _POSS.sub("", word) if word.endswith("\n") else word


def name_key(name: str) -> str:
    """Comparison key of a name: no leading article, no possessive, spun apostrophes repaired, lowercase."""
    name = _strip_poss(name.strip())
    name = _ARTICLE.sub("", name).split(":")[0].strip()
    return " ".join(_SPUN_APOS.sub("'", name).lower().split())


def entity_id(type_: str, name: str) -> str:
    """Deterministic entity id: sha1 of type and canonical name, first 16 hex digits."""
    return hashlib.sha1(f"{type_}\t{name}".encode()).hexdigest()[:16]


def _is_headline(text: str, a: int, b: int, settings: ExtractSettings) -> bool:
    """A title-case line without final punctuation (a headline or subhead): its capitals mark no names."""
    line = text[a:b]
    last = line[-1:]
    if last in ".\"\u201d\u2019" and last not in "!?":
        return False  # most lines: decided by their last character, without counting words
    words = _LINE_WORDS.findall(line)
    long = [w for w in words if len(w) > 3]
    caps = sum(w[0].isupper() for w in long)
    if last in "!?":
        # an exclaimed or asked headline ("Star Cast as New Lead!") capitalises nearly every word; a spoken
        # line ("I love New York!") does not
        return len(long) >= settings.exclaimed_headline_min_words and caps >= settings.exclaimed_headline_caps_share * len(long)
    if len(words) < 3:
        return False
    return caps * 2 >= len(long) > 0


def _is_initial(text: str, pos: int) -> bool:
    return bool(_INITIAL_BEFORE.search(text, max(0, pos - 6), pos))


def _prev_word(text: str, pos: int) -> str:
    lo = max(0, pos - 30)
    # a match runs unbroken from its start to within three characters of ``pos``, so it cannot start at or
    # before a space further back: skip those starts (the search would try each one)
    lo = max(lo, text.rfind(" ", lo, pos - 3) + 1)
    m = _PREV_WORD.search(text[lo:pos])
    return m.group(1) if m else ""


def _one_word(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` is one non-empty run of non-space characters (str whitespace is re's ``\\s``)."""
    parts = text[a:b].split()
    return len(parts) == 1 and len(parts[0]) == b - a


def _trim(
    text: str, a: int, b: int, c: Cues, midcaps: set[str], initial: bool, zipf: float, min_name_words: int,
    solo: Callable[[], frozenset[str]] = frozenset,
) -> tuple[int, int]:
    """Drop leading/trailing words of a capitalised run that are not part of a name.

    ``solo()``: names the document writes without an acronym (and never in lowercase); an acronym glued
    before one of them by a missing comma ("an interview with the BNC Oduya said") is dropped.
    """
    # most runs are one word: that one without the regex
    words = [(a, b)] if _one_word(text, a, b) else [m.span() for m in _NONSPACE.finditer(text, a, b)]
    if initial and len(words) == 1 and text[words[0][0] : words[0][1]].endswith("ly") and text[b : b + 1] == ",":
        return a, a  # a sentence adverb ("Presently, ...")
    while words:
        w = text[words[0][0] : words[0][1]]
        bare = _strip_poss(w)
        if (
            bare in c.stop
            or (w in c.offices and len(words) > 1)
            or (initial and bare not in midcaps and bare not in ("The", "A") and _common(bare, zipf))
            or (
                len(words) > 1
                and _ACRONYM.fullmatch(w)
                and (last := _strip_poss(text[words[-1][0] : words[-1][1]])) in solo()
                and last not in c.suffix  # "ACME Widget Corp.": an organisation's own name
                and w.capitalize() not in text  # "PETER Oduya" in a capitalised lead-in is a first name
            )
        ):
            words.pop(0)
            initial = False
            continue
        break
    words = _drop_portfolio(text, a, words, c)
    # "Acme CEO Jane Roe", "Northfield County Sheriff John Doe": who holds the office is the name
    held = [i for i in range(1, len(words) - min_name_words) if text[words[i][0] : words[i][1]] in c.offices]
    if held:
        words = _drop_portfolio(text, words[held[-1]][1], words[held[-1] + 1 :], c)
    # "A Acme Foods worker", "An Acme spokesman": the article belongs to the noun after the name; only a
    # work's title keeps it ("the film A Quiet Place")
    if len(words) > 1 and text[words[0][0] : words[0][1]] in ("A", "An") and not _work_context(text, words[0][0], c):
        words.pop(0)
    while words and (text[words[-1][0] : words[-1][1]] in c.stop or text[words[-1][0] : words[-1][1]] in _TAIL_STOP):
        words.pop()
    if words and text[words[0][0] : words[0][1]] in ("A", "An") and len(words) == 1:
        words.pop()
    if not words:
        return a, a
    return words[0][0], words[-1][1]


_OFFICE_OF = re.compile(r"([A-Z][\w\-]*) of(?: the)?\s+$")


def _drop_portfolio(text: str, a: int, words: list[tuple[int, int]], c: Cues) -> list[tuple[int, int]]:
    """Without the "of [the] Commerce" an office names before a person ("Secretary of Commerce Jane Roe")."""
    if words and text[words[0][0] : words[0][1]] == "of":  # the office itself was trimmed off this run
        w = [text[x:y] for x, y in words]
        k = 2 if len(w) > 1 and w[1] == "the" else 1
    else:
        # "Secretary of the Interior Jane Roe": the run starts after "the"; only text ending in "of" or
        # "the" and a space can match, which a string test sees faster than the regex
        if not _ends_with_word_space(text, a, ("of", "the")):
            return words
        m = _OFFICE_OF.search(text, max(0, a - 40), a)
        if m is None or m.group(1) not in c.offices:
            return words
        w = [text[x:y] for x, y in words]
        k = 0
    while k < len(w) and w[k] in c.portfolios:
        k += 1
    return words[k:]


def _ends_with_word_space(text: str, pos: int, words: tuple[str, ...]) -> bool:
    """Whether ``text[:pos]`` ends in whitespace right after one of ``words``: a necessary condition for the
    ``word\\s+$`` patterns below, so a False skips their search (str whitespace is re's ``\\s``)."""
    if pos == 0 or not text[pos - 1].isspace():
        return False
    head = text[max(0, pos - 40) : pos].rstrip()
    return head.endswith(words)


def _work_context(text: str, pos: int, c: Cues) -> bool:
    before = text[max(0, pos - 40) : pos]
    return _prev_word(text, pos).lower() in c.work_nouns or bool(c.work_of.search(before))


@lru_cache(maxsize=65536)
def _common(word: str, zipf: float) -> bool:
    return zipf_frequency(word.lower(), "en") >= zipf


def find_candidates(doc_id: str, text: str, layout: Layout, settings: ExtractSettings) -> list[Candidate]:
    """Mention candidates of one document, each with type votes from local cues."""
    c = cues()
    chunk = _chunk_re()
    headline = [_is_headline(text, a, b, settings) for a, b in layout.paragraphs]
    # per sentence, whether its paragraph is a headline (None when no paragraph is: nothing to skip)
    skip = [headline[s.para] for s in layout.sentences] if layout.sentences and any(headline) else None
    spans: list[tuple[int, int, bool]] = []
    midcaps: set[str] = set()
    raw_runs = []
    for m in chunk.finditer(text):
        a = m.start()
        if skip is not None and skip[max(bisect.bisect_right(layout.starts, a) - 1, 0)]:
            continue
        initial = _is_initial(text, a)
        raw_runs.append((a, m.end(), initial))
        # a run starts with a capital, so its first capitalised word starts it; no word holds an apostrophe,
        # so none has a possessive to strip
        caps = _CAP_WORD.findall(m.group(0))
        midcaps.update(caps[1:] if initial else caps)
    zipf = settings.common_word_zipf

    @cache
    def solo() -> frozenset[str]:
        """Names the document writes without an acronym: the last words of runs that hold none (made on first use)."""
        lower = set(_LOWER_WORD.findall(text))
        return frozenset(
            w for a, b, initial in raw_runs
            if not (initial and _one_word(text, a, b))  # "Times are hard": a capital that only starts a sentence
            and not _ACRONYM.search(text, a, b)
            and (w := _strip_poss(text[a:b].rsplit(None, 1)[-1])).lower() not in lower
        )
    for a, b, initial in raw_runs:
        if initial and b - a < 16 and " " not in text[a:b] and "\u00a0" not in text[a:b]:
            # one sentence-initial word ("The", "But", "Yesterday"): what _trim would drop, dropped cheaply
            bare = _strip_poss(text[a:b])
            if bare in c.stop or bare in _TAIL_STOP or (bare not in midcaps and bare not in ("The", "A") and _common(bare, zipf)):
                continue
        # a possessive ends a name unless it is inside a title that began with an article
        pieces = []
        s = a
        # (a cut needs a space after the "'s", so a one-word run has none)
        for pm in _POSS_CUT.finditer(text, a, b) if not _one_word(text, a, b) else ():
            cut = pm.end()
            if not text[s:cut].startswith(("The ", "A ")):
                pieces.append((s, pm.start()))
                s = cut + 1
        pieces.append((s, b))
        for k, (x, y) in enumerate(pieces):
            x, y = _trim(text, x, y, c, midcaps, initial and k == 0, zipf, settings.office_min_name_words, solo)
            y = x + len(_strip_poss(text[x:y]))
            if y - x >= settings.min_name_chars:
                spans.append((x, y, initial and k == 0 and x == a))
    # quoted titles are works even when they begin with a lowercase-looking word
    titled = {}
    for m in _QUOTED.finditer(text):
        inner = m.group(1).strip()
        words = inner.split()
        if 0 < len(words) <= settings.max_title_words and all(w[0].isupper() or w.lower() in _MINOR for w in words):
            titled[(m.start(1), m.start(1) + len(inner))] = inner
    out: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    for (x, y), inner in titled.items():
        cand = Candidate(doc_id, x, y, inner)
        cand.votes["WORK"] += 3
        out.append(cand)
        taken.append((x, y))
    for x, y, _initial in spans:
        if taken and any(p <= x and y <= q for p, q in taken):
            continue
        cand = Candidate(doc_id, x, y, text[x:y])
        _vote(cand, text, c)
        out.append(cand)
    if skip is not None and out:
        out += _named_in_headlines(doc_id, text, [p for p, h in zip(layout.paragraphs, headline, strict=True) if h], out)
    out.sort(key=lambda k: k.start)
    return out


def _named_in_headlines(doc_id: str, text: str, lines: list[tuple[int, int]], body: list[Candidate]) -> list[Candidate]:
    """Mentions in headline lines of the names the body uses ("Rovers Striker Ivo Marn Arrested After Crash",
    whose body names Ivo Marn): a headline's capitals mark no names of their own. Longest first, no
    overlaps; their type comes from the body's mentions of the same name.

    One word counts only as a surname the body gives in full ("Marn") or when its own capitals set it
    apart ("NXT", "DataVane"): a headline capitalises "Danish" or "Police" whatever the body makes of them.
    """
    full = [cand.text for cand in body if " " in cand.text]
    words = {cand.text for cand in body if " " not in cand.text and any(ch.isupper() for ch in cand.text[1:])}
    names = sorted({*full, *words, *(t.rsplit(" ", 1)[1] for t in full)}, key=lambda t: (-len(t), t))
    found: list[Candidate] = []
    for a, b in lines:
        taken: list[tuple[int, int]] = []
        for name in names:
            x = text.find(name, a, b)
            while x >= 0:
                y = x + len(name)
                whole = not _is_word_char(text[x - 1 : x]) and not _is_word_char(text[y : y + 1])
                if whole and not any(p < y and x < q for p, q in taken):
                    taken.append((x, y))
                    found.append(Candidate(doc_id, x, y, name))
                x = text.find(name, y, b)
    return found


def _is_word_char(ch: str) -> bool:
    return bool(ch) and (ch.isalnum() or ch in "_-")


_MINOR = frozenset(["a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "with", "from", "by", "as", "but", "vs"])


_NEXT_LOWER = re.compile(r"[\s,]*([a-z]+)")
_AGE_AFTER = re.compile(r",\s\d{1,3},")
_TOLD_BEFORE = re.compile(r"\b(?:according to|told|telling|tells)\s+$")
_IN_BEFORE = re.compile(r"\b(?:in|from|near)\s+$")
_ACCORDING_BEFORE = re.compile(r"\baccording to\s+$", re.IGNORECASE)
_ACCORDING_AFTER = re.compile(r"( magazine)?,[^.!?]{0,60}?\b(\w+)\b")
_LOWER_WORDS = re.compile(r"[a-z]+")
_CITY_STATE = re.compile(r",\s([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)")
_COMMA_BEFORE = re.compile(r"[A-Za-z]+,\s$")
_PRONOUN_AFTER = re.compile(r"\b(?:he|she|his|her)\b")
_NAME_WORD = re.compile(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?\.?|[A-Z]\.(?:[A-Z]\.)*")


def _vote(cand: Candidate, text: str, c: Cues) -> None:
    """Type votes from the words inside and around one candidate."""
    words = cand.text.split()
    v = cand.votes
    if cand.text in c.places:
        v["PLACE"] += 3
    if len(words) > 1 and words[-1] in c.suffix:
        v[c.suffix[words[-1]]] += 2
    if len(words) > 1 and words[0] in c.prefix:
        v[c.prefix[words[0]]] += 1
    for w in words[1:]:
        if w in c.inner:
            v[c.inner[w]] += 3
            break
    if not c.outlet_words.isdisjoint(words):
        v["OUTLET"] += 2
    before = text[max(0, cand.start - 40) : cand.start]
    after = text[cand.end : cand.end + 40]
    prev = _prev_word(text, cand.start)
    prev_lower = prev.lower()
    if prev in c.titles:
        v["PERSON"] += 3
    if prev_lower in c.roles:
        v["PERSON"] += 2
    # "the book Dune", "the film 'Jaws'" (not "In the book, Brennagh ...")
    space_before = cand.start > 0 and text[cand.start - 1].isspace()  # the "...\\s+$" cues below need it
    stripped = before.rstrip() if space_before else before
    if (prev_lower in c.work_nouns and not before.rstrip(" \"\u201c'\u2018").endswith(",")) or (
        space_before and stripped.endswith("of") and c.work_of.search(before)
    ):
        v["WORK"] += 3
    nxt = _NEXT_LOWER.match(after)
    if nxt and nxt.group(1) in c.outlet_after:
        v["OUTLET"] += 2
    if nxt and nxt.group(1) in c.speech and len(words) > 1:
        # (a one-word name that speaks is as often an organisation: "Microsoft said"; and a name under an
        # article is one: "The Ministry said", "The Harbor Rovers said")
        v["ORG" if words[0] in ("The", "A", "An") else "PERSON"] += 1
    comma_after = after[:1] == ","  # the age and "City, State" cues start with one
    if comma_after and _AGE_AFTER.match(after):
        v["PERSON"] += 2  # "Name, 33," gives an age
    if words[0] == "The" and space_before and _TOLD_BEFORE.search(before):
        v["OUTLET"] += 2
    if space_before and stripped.endswith(("in", "from", "near")) and _IN_BEFORE.search(before) and not (after and after[0] in APOS):
        v["PLACE"] += 1
    if space_before and stripped[-2:].lower() == "to" and _ACCORDING_BEFORE.search(before):
        m = _ACCORDING_AFTER.match(after)
        v["OUTLET"] += 2 if m and any(w in c.speech for w in _LOWER_WORDS.findall(after[:80])) else 1
    m = _CITY_STATE.match(after) if comma_after else None
    if m and m.group(1) in c.places:
        v["PLACE"] += 3  # "City, State"
    if cand.text in c.places and _COMMA_BEFORE.search(before):
        v["PLACE"] += 1
    if len(words) > 1 and words[0] not in ("The", "A", "An") and _PRONOUN_AFTER.search(after[:20]):
        v["PERSON"] += 1
    if (
        not v
        and 2 <= len(words) <= 3
        and words[0] not in ("The", "A", "An")
        and all(_NAME_WORD.fullmatch(w) for w in words)
    ):
        v["PERSON"] += 1  # bare "First Last" with no other cue


@dataclass
class _Cluster:
    key: str
    forms: Counter
    votes: Counter
    docs: set[str]
    members: list[Candidate]
    parent: _Cluster | None = None

    def root(self) -> _Cluster:
        c = self
        while c.parent is not None:
            c = c.parent
        return c

    @property
    def type(self) -> str:
        return _best_type(self.votes)


def _best_type(votes: Counter) -> str:
    """The type with most votes (ties go to the earlier of TYPES); OTHER without votes."""
    if not votes:
        return "OTHER"
    best = max(votes.values())
    return next(t for t in TYPES if votes[t] == best)


def _edit1(a: str, b: str) -> bool:
    """True when a and b differ by one insertion, deletion or substitution."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def _deletion_index(full: list[_Cluster]) -> dict[str, list[_Cluster]]:
    """Full names by every one-letter deletion of their surname (and the surname itself)."""
    index: dict[str, list[_Cluster]] = defaultdict(list)
    for cl in full:
        for d in _deletions(cl.key.split()[-1]):
            index[d].append(cl)
    return index


def _near(word: str, index: dict[str, list[_Cluster]]) -> list[_Cluster]:
    """Full names whose surname may be one edit from ``word`` (a superset: shares a one-letter deletion)."""
    seen: dict[int, _Cluster] = {}
    for d in _deletions(word):
        for cl in index.get(d, ()):
            seen[id(cl)] = cl
    return list(seen.values())


def _attach_in_document(cl: _Cluster, by_token: dict[str, list[_Cluster]]) -> None:
    """Move the mentions of a one-word name to the full name its own document uses ("Marn" -> "Ivo
    Marn" where that document names him), one document at a time, unless a mention's own context types
    it otherwise; what no document settles stays."""
    moved = []
    by_doc: dict[str, list[_Cluster]] = {}  # the options depend only on the mention's document
    for cand in cl.members:
        v = cand.votes
        if v["PLACE"] > v["PERSON"] or any(n >= 2 and n > v["PERSON"] for t, n in v.items() if t != "PERSON"):
            continue  # its own context says place, work, outlet, ... ("in Washington")
        options = by_doc.get(cand.doc_id)
        if options is None:
            options = [o for o in by_token.get("L:" + cl.key, []) if cand.doc_id in o.docs]
            options = by_doc[cand.doc_id] = options or [o for o in by_token.get("F:" + cl.key, []) if cand.doc_id in o.docs]
        if len(options) == 1:
            target = options[0]
            target.members.append(cand)
            target.votes.update(cand.votes)
            target.forms[" ".join(_strip_poss(cand.text).split())] += 1
            moved.append(cand)
    if not moved:
        return
    gone = {id(c) for c in moved}
    keep = [c for c in cl.members if id(c) not in gone]
    cl.members = keep
    cl.docs = {c.doc_id for c in keep}
    cl.forms = Counter(" ".join(_strip_poss(c.text).split()) for c in keep)


def resolve(candidates: Iterable[Candidate], roles: Iterable[tuple[str, str]], settings: ExtractSettings) -> list[Entity]:
    """Merge candidates of a batch into entities; set each candidate's entity_id; return the entities.

    ``roles`` are (actor, character) surface pairs: a character never merges into its actor.
    """
    clusters: dict[str, _Cluster] = {}
    cands = list(candidates)
    keys: dict[str, tuple[str, str]] = {}  # surface text -> (key, form): a batch names the same people often
    for cand in cands:
        known = keys.get(cand.text)
        if known is None:
            known = keys[cand.text] = (name_key(cand.text), " ".join(_strip_poss(cand.text).split()))
        key, form = known
        if not key:
            continue
        cl = clusters.get(key)
        if cl is None:
            cl = clusters[key] = _Cluster(key, Counter(), Counter(), set(), [])
        cl.forms[form] += 1
        if cand.votes:
            cl.votes.update(cand.votes)
        cl.docs.add(cand.doc_id)
        cl.members.append(cand)
    characters = {name_key(ch) for _actor, ch in roles}
    for key in characters:
        if key in clusters:
            clusters[key].votes["PERSON"] += 2
    # full names: multi-word clusters whose type is PERSON
    # a full name is a person when its own votes say so, or with those of its surname used alone ("Park, 41,")
    full = [
        cl for cl in clusters.values()
        if " " in cl.key and (
            cl.type == "PERSON"
            or (cl.key.split()[-1] in clusters and _best_type(cl.votes + clusters[cl.key.split()[-1]].votes) == "PERSON")
        )
    ]  # fmt: skip
    by_token: dict[str, list[_Cluster]] = defaultdict(list)
    for cl in full:
        toks = cl.key.split()
        by_token["L:" + toks[-1]].append(cl)
        by_token["F:" + toks[0]].append(cl)
    surnames = _deletion_index(full)
    for cl in clusters.values():
        if " " in cl.key:
            continue
        _attach_in_document(cl, by_token)
        if not cl.members or cl.type not in ("PERSON", "OTHER"):
            continue
        options = by_token.get("L:" + cl.key, []) or by_token.get("F:" + cl.key, [])
        if not options and len(cl.key) >= settings.typo_min_chars and cl.key not in characters:
            options = [f for f in _near(cl.key, surnames) if _edit1(cl.key, f.key.split()[-1])]
        local = [o for o in options if o.docs & cl.docs]
        pick = local if local else options
        if len(pick) == 1 and not (cl.key in characters and pick[0].key not in characters):
            cl.parent = pick[0]
    groups: dict[int, list[_Cluster]] = defaultdict(list)
    for cl in clusters.values():
        if cl.members:
            groups[id(cl.root())].append(cl)
    entities = []
    for members in groups.values():
        root = members[0].root()
        votes = Counter()
        forms = Counter()
        for m in members:
            votes.update(m.votes)
            forms.update(m.forms)
        type_ = _best_type(votes)
        # the fullest name (a leading article adds nothing: "The Brookfield" from "The Brookfield police"), then the commonest
        canonical = max(root.forms, key=lambda f: (len(_ARTICLE.sub("", f).split()), root.forms[f], f))
        if type_ == "PERSON":
            # "The Marn administration" names Marn: a person's name takes no article
            canonical = _ARTICLE.sub("", canonical) or canonical
        eid = entity_id(type_, canonical)
        aliases = tuple(sorted(f for f in forms if f != canonical))
        entities.append(Entity(eid, canonical, type_, aliases))
        for m in members:
            for cand in m.members:
                cand.entity_id = eid
    entities.sort(key=lambda e: e.entity_id)
    return entities


def mentions_of(cands: Sequence[Candidate]) -> tuple[Mention, ...]:
    """Mention records of resolved candidates."""
    return tuple(Mention(c.doc_id, c.entity_id, c.start, c.end, c.text) for c in cands if c.entity_id)
