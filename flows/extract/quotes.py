"""Quotes: who said what, where (venue), reported by whom (outlet), and when.

Needs: a DocContext (text, layout, resolved mentions, timexes) and the speech-verb, venue, outlet
and remark lexicons under rules/extract.
Adds: ``kind="quote"`` claims: direct quotes (curly or straight marks, also the damaged
apostrophes of spun copy, multi-paragraph quotes) attributed before, after, by colon or dash, or
by continuation; the parts of one quotation split by its attribution ("A," she said, "B") are one
claim; quoted titles are not quotes; quotes nested in a quote get their own speaker (modality
"reported"); indirect speech (modality "reported"); reports of a remark without its words
(predicate "remarked"), whose time goes to the speaker's next quote ("+context_time"), which then
stands for the remark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from flows.extract.context import DocContext, make_claim
from flows.extract.entities import Candidate, name_key
from flows.records import CLAIM_TIME_FIELDS, Claim
from flows.rules import load_table
from flows.settings import ExtractSettings

_NOT_NEWLINE = re.compile(r"[^\n]")
_MARKS = re.compile(r"[\"\u201c\u201d]+")
_OPEN_ONLY = "\u201c"
_LOWER_WORD = re.compile(r"[a-z]+")
_CLAUSE_SUBJECT = re.compile(r"(?:I|he|she|it|they|we|you|there|his|her|their|its|the|a|an|[A-Z][\w'\u2019-]*)\b")
_NEXT_QUOTE = re.compile(r"[^.!?\"\u201c\u201d\n]{0,60}?[,:]\s*[\"\u201c]")
# a single quote mark opening a nested quotation (after a space, bracket or dash, before a letter) and one
# closing it (after a letter or punctuation, before a non-letter); apostrophes sit between letters
_NESTED_OPEN = re.compile(r"(?:(?<=[\s(\u2014\u2013-])|^)['\u2018](?=[A-Za-z])")
_NESTED_CLOSE = re.compile(r"(?<=[\w.,!?\u2026])['\u2019](?![A-Za-z])")
_CLOSE_ONLY = "\u201d"
_NAME = r"[A-Z][\w.'\u2019\-]*(?:[ \u00a0](?:[A-Z][\w.'\u2019\-]*|of|the)){0,5}"


def _speaker_re(roles: str) -> str:
    """The speaker group: a name (after optional role nouns, which may have modifiers: "chairman Victor Hale",
    "Acme chief executive Sarah Lin", "Acme senior threat researcher Ivo Lind"), an appositive ("Her spokesman, Daniel Ortiz,"), a pronoun or a short noun phrase."""
    return (
        rf"(?P<spk>(?:(?:[A-Z][\w.'\u2019\-]*\s+){{0,3}}(?:[a-z][\w\-]*\s+){{0,2}}?(?:(?:{roles})\s+){{1,2}})?{_NAME}"
        rf"|(?:[Hh]er|[Hh]is|[Tt]heir|[Tt]he|[Aa]n?)\s+(?:[a-z]+\s+)?(?:{roles}),\s+{_NAME},"
        r"|[Hh]e|[Ss]he|[Tt]hey|[Hh]er [a-z]+|[Hh]is [a-z]+|(?:[Tt]he|[Aa]n?) [a-z]+(?: [a-z]+)?)"
    )


_ADVERBS = r"(?:(?:also|later|then|once|previously|recently|finally|simply|has|had|have|was|once|\w+ly)\s+){0,2}"


@dataclass(frozen=True)
class Lexicon:
    verbs: dict[str, tuple[str, str, bool]]  # form -> (predicate, modality, takes_object)
    indirect: dict[str, str]  # form -> yes | that | no: whether it introduces speech without quote marks
    verb_alt: str
    verb_words: frozenset[str] | None  # the verb forms when each is one lowercase word (None: they cannot gate)
    venues: tuple[tuple[re.Pattern[str], str], ...]
    any_venue: re.Pattern[str] | None  # matches in a span whenever some venue cue does (None: no such gate)
    remark_alt: str
    remark_nouns: frozenset[str]
    after_re: re.Pattern[str]
    after_inv_re: re.Pattern[str]
    before_re: re.Pattern[str]
    colon_re: re.Pattern[str]
    indirect_re: re.Pattern[str]
    outlet_re: re.Pattern[str]
    remark_re: re.Pattern[str]
    nested_re: re.Pattern[str]


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """Speech verbs, venue cues and remark nouns compiled into the attribution patterns."""
    req = ("source", "example")
    verbs = {
        r["form"]: (r["predicate"], r["modality"], r["takes_object"] == "yes")
        for r in load_table("extract/speech_verbs.tsv", ("form", "predicate", "modality", "takes_object", "indirect", *req))
    }
    indirect = {r["form"]: r["indirect"] for r in load_table("extract/speech_verbs.tsv", ("form", "indirect", *req))}
    alt = "|".join(sorted(map(re.escape, verbs), key=len, reverse=True))
    venue_rows = load_table("extract/venue_cues.tsv", ("pattern", "kind", *req))
    venues = tuple((re.compile(rf"\b{r['pattern']}\s+", re.IGNORECASE), r["kind"]) for r in venue_rows)
    remark = "|".join(re.escape(r["noun"]) for r in load_table("extract/remark_nouns.tsv", ("noun", *req)))
    roles = "|".join(sorted((re.escape(r["word"]) for r in load_table("extract/person_cues.tsv", ("kind", "word", *req)) if r["kind"] == "role"), key=len, reverse=True))
    speaker = _speaker_re(roles)
    return Lexicon(
        verbs=verbs,
        indirect=indirect,
        verb_alt=alt,
        verb_words=frozenset(verbs) if all(_LOWER_WORD.fullmatch(v) for v in verbs) else None,
        venues=venues,
        any_venue=_any_of([rx.pattern for rx, _kind in venues]),
        remark_alt=remark,
        remark_nouns=frozenset(r["noun"] for r in load_table("extract/remark_nouns.tsv", ("noun", *req))),
        after_re=re.compile(rf"^[\s,]*(?:[-\u2013\u2014]\s*)?{speaker}\s+{_ADVERBS}(?P<verb>{alt})\b"),
        after_inv_re=re.compile(rf"^[\s,]*(?P<verb>{alt})\s+{speaker}\b"),
        before_re=re.compile(rf"{speaker}\s+{_ADVERBS}(?P<verb>{alt})\b"),
        colon_re=re.compile(rf"{speaker}\s*[:\u2014\u2013]\s*$"),
        indirect_re=re.compile(rf"{speaker}\s+{_ADVERBS}(?P<verb>{alt})\b(?P<obj>\s+(?:me|him|her|us|them|[A-Z][\w'\u2019]*(?:\s[A-Z][\w'\u2019]*)*))?(?P<that>\s+that)?\s+(?P<clause>[^\"\u201c\u201d]+)"),
        outlet_re=re.compile(r"\b(?:[Aa]ccording to|told|telling|tells|in an interview with|[Ff]ollow to)\s+"),
        nested_re=re.compile(rf"(?P<spk>\bI|\b[Hh]e|\b[Ss]he|\b[Tt]hey|[A-Z][\w.'\u2019\-]*(?:[ \u00a0][A-Z][\w.'\u2019\-]*){{0,3}})\s+(?:[a-z]+\s+){{0,6}}?(?P<verb>{alt})(?:\s+(?:me|him|her|us|them|[A-Z][\w'\u2019\-]*(?:\s[A-Z][\w'\u2019\-]*)*))?[,:]?\s*$"),
        remark_re=re.compile(rf"(?P<spk>[A-Z][\w\-]*(?:\s[A-Z][\w\-]*)*)['\u2019\"]s\s+(?:[a-z]+\s+){{0,2}}?(?P<noun>{remark})\b"),
    )


def _any_of(patterns: list[str]) -> re.Pattern[str] | None:
    """One pattern for all venue cues, to rule out in one scan a span where none matches (each cue is one of its
    branches); None when they cannot be joined (numbered backreferences would point elsewhere, inline flags)."""
    if any(re.search(r"\\[1-9]|\(\?P=", p) for p in patterns):
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    except re.error:
        return None


@dataclass
class Quote:
    """A quoted passage: marks at ``open`` and ``close - 1``; content parts (multi-paragraph)."""

    open: int
    close: int
    parts: list[tuple[int, int]]
    para: int
    speaker: Candidate | None = None
    verb: str = ""
    attr: tuple[int, int] | None = None
    rule: str = ""


def _marks(text: str, a: int, b: int) -> list[tuple[int, int, str]]:
    """Double-quote marks of one paragraph; a straight quote between letters is a spun apostrophe."""
    out = []
    for m in _MARKS.finditer(text, a, b):
        s, e = m.span()
        if e - s == 1 and text[s] == '"' and s > 0 and e < len(text) and text[s - 1].isalpha() and text[e].isalpha():
            continue
        kind = "o" if text[s] == _OPEN_ONLY else "c" if text[e - 1] == _CLOSE_ONLY else "t"
        out.append((s, e, kind))
    return out


def _closing(text: str, s: int, e: int, kind: str, a: int) -> bool:
    """A mark that can only close a quotation: a right quote, or a straight one after a word or its
    punctuation and before a space, punctuation or the end (``life," said``), not at a paragraph's start."""
    if kind == "c":
        return True
    return kind == "t" and s > a and not text[s - 1].isspace() and text[s - 1] not in "([\u2014\u2013-" and (
        e == len(text) or text[e].isspace() or text[e] in ",.;:!?)\u2014\u2013"
    )


def find_quotes(text: str, ctx: DocContext, carry: int) -> list[Quote]:
    """Quoted passages of the text, paragraph by paragraph; an open quote continues into a paragraph
    that starts with an opening mark (the multi-paragraph convention) or whose first mark closes it
    (a quotation of several sentences in a text with a line per sentence, up to ``carry`` paragraphs
    without marks between), else closes at paragraph end."""
    quotes: list[Quote] = []
    pending: Quote | None = None
    carried: list[tuple[int, int]] = []  # paragraphs without marks after an unclosed quote, which may run through them
    for p, (a, b) in enumerate(ctx.layout.paragraphs):
        marks = _marks(text, a, b)
        if pending is not None and marks and _closing(text, *marks[0], a):
            s, e, _kind = marks[0]
            pending.parts.extend(carried)
            pending.parts.append((a, s))
            pending.close = e
            quotes.append(pending)
            pending, carried = None, []
            marks = marks[1:]
        elif pending is not None and not marks and len(carried) < carry:
            carried.append((a, b))
            continue
        if pending is not None and (carried or not (marks and marks[0][0] == a and marks[0][2] != "c")):
            quotes.append(pending)
            pending = None
        carried = []
        cur: Quote | None = pending
        if cur is not None:
            marks = marks[1:]
            cur_start = a + 1
        else:
            cur_start = 0
        pending = None
        for s, e, kind in marks:
            if cur is None:
                if _closing(text, s, e, kind, a):
                    continue  # closes a quotation that opened too far back to tell where: none is guessed
                cur = Quote(s, e, [], p)
                cur_start = e
            elif kind == "o" and text[cur_start:s].strip():
                # a second opening mark: the first was never closed; end it here
                cur.parts.append((cur_start, s))
                cur.close = s
                quotes.append(cur)
                cur = Quote(s, e, [], p)
                cur_start = e
            else:
                cur.parts.append((cur_start, s))
                cur.close = e
                quotes.append(cur)
                cur = None
        if cur is not None:
            cur.parts.append((cur_start, b))
            cur.close = b
            pending = cur
    if pending is not None:
        quotes.append(pending)
    return [q for q in quotes if any(text[x:y].strip() for x, y in q.parts)]


def _quote_text(text: str, q: Quote) -> str:
    body = " ".join(text[x:y].strip() for x, y in q.parts)
    return body.strip().rstrip(",").strip()


def _speaker(ctx: DocContext, m: re.Match[str], base: int) -> Candidate | None:
    """The person a speaker group names: a resolved mention inside it, or the referent of a pronoun."""
    a, b = m.start("spk") + base, m.end("spk") + base
    spk = m.group("spk")
    first = spk.split()[0].lower()
    if first in ("he", "she", "they"):
        return ctx.resolve_pronoun(first, a)
    found = [c for c in ctx.mentions_in(a, b) if ctx.entity(c).type in ("PERSON", "OTHER", "ORG")]
    if found and (ctx.entity(found[-1]).type != "PERSON" or not ctx.subject_like(found[-1])):
        # "Peter Guest, Assistant Chief Fire Officer at Surrey Fire and Rescue Service says": the person the
        # organisation's name is an apposition to
        head = _appositive_head(ctx, a)
        if head is not None:
            return head
    if found and ctx.entity(found[-1]).type != "ORG":
        return found[-1]
    return None


def _appositive_head(ctx: DocContext, pos: int) -> Candidate | None:
    """The person named before ``pos`` in its sentence and followed by a comma that opens an apposition
    running up to ``pos`` (no sentence or clause break between)."""
    s0 = ctx.layout.sentences[ctx.layout.sentence_at(pos)].start if ctx.layout.sentences else 0
    for c in reversed(ctx.mentions_in(max(s0, pos - 120), pos)):
        between = ctx.text[c.end : pos]
        if ctx.entity(c).type == "PERSON" and between.startswith(",") and not re.search(r"[.;!?\"\u201c\u201d]|,.*,", between[1:]):
            return c
    return None


def _attribute(text: str, masked: str, ctx: DocContext, quotes: list[Quote], lex: Lexicon) -> None:
    """Set speaker and verb of each quote from the words after it, before it, or its neighbours."""
    for i, q in enumerate(quotes):
        pa, pb = ctx.layout.paragraphs[q.para]
        last_para = ctx.layout.paragraphs[ctx.layout.sentences[ctx.layout.sentence_at(q.close - 1)].para]
        nxt = quotes[i + 1].open if i + 1 < len(quotes) and quotes[i + 1].para == q.para else last_para[1]
        after = masked[q.close : min(nxt, q.close + 200)]
        ended = _quote_text(text, q).endswith(".")
        for rx, rule in ((lex.after_re, "after"), (lex.after_inv_re, "after_inverted")):
            m = rx.match(after)
            # a quote closed by its own full stop is not attributed by the words after it when they
            # introduce the next quote ("...end." She said, "Next ...")
            if m and ended and _NEXT_QUOTE.match(masked, q.close + m.end()):
                continue
            if m and m.group("spk").split()[0].lower() not in ("the", "a", "an") or (m and rule == "after"):
                spk = _speaker(ctx, m, q.close)
                if spk is not None:
                    q.speaker, q.verb, q.rule = spk, m.group("verb"), rule
                    q.attr = (q.close + m.start("spk") if rule == "after" else q.close, q.close + m.end())
                    break
        if q.speaker is not None:
            continue
        prev = quotes[i - 1].close if i > 0 and quotes[i - 1].para == q.para else pa
        si = ctx.layout.sentence_at(q.open)
        s_start = ctx.layout.sentences[si].start if ctx.layout.sentences else pa
        lo = max(prev, s_start)
        before = masked[lo : q.open]
        # a match holds a speech verb, a whole word of the sentence (masking cuts no word): without one, no scan
        hits = list(lex.before_re.finditer(before)) if _may_hold_verb(ctx, si, lex) else []
        if hits:
            m = hits[-1]
            spk = _speaker(ctx, m, lo)
            if spk is not None and not re.search(r"[.!?]\s", before[m.end() :]):
                q.speaker, q.verb, q.rule = spk, m.group("verb"), "before"
                q.attr = (lo + m.start("spk"), lo + m.end())
                continue
        # (the colon pattern ends in a colon or dash and spaces: only such text is searched)
        m = lex.colon_re.search(before) if before.rstrip()[-1:] in (":", "\u2014", "\u2013") else None
        if m:
            spk = _speaker(ctx, m, lo)
            if spk is not None and ctx.entity(spk).type == "PERSON":
                q.speaker, q.verb, q.rule = spk, "said", "colon"
                q.attr = (lo + m.start("spk"), lo + m.end("spk"))
                continue
        if not before.strip() and si > 0 and ctx.layout.sentences[si - 1].para == q.para:
            ps = ctx.layout.sentences[si - 1]
            seg = masked[max(ps.start, prev) : ps.end]
            hits = list(lex.before_re.finditer(seg)) if _may_hold_verb(ctx, si - 1, lex) else []
            if hits and '"' not in text[ps.start : ps.end] and "\u201c" not in text[ps.start : ps.end]:
                m = hits[-1]
                spk = _speaker(ctx, m, max(ps.start, prev))
                if spk is not None:
                    q.speaker, q.verb, q.rule = spk, m.group("verb"), "previous_sentence"
                    q.attr = (max(ps.start, prev) + m.start("spk"), max(ps.start, prev) + m.end())
    # continuation: an unattributed quote takes the speaker of an attributed neighbour
    for i, q in enumerate(quotes):
        if q.speaker is not None:
            continue
        same = [o for o in quotes if o.para == q.para and o.speaker is not None]
        if same:
            src = min(same, key=lambda o: abs(o.open - q.open))
        elif i > 0 and quotes[i - 1].speaker is not None and quotes[i - 1].para == q.para - 1 and _only_quote(text, ctx, q):
            src = quotes[i - 1]
        else:
            continue
        q.speaker, q.verb, q.rule = src.speaker, src.verb, "continuation"


def _may_hold_verb(ctx: DocContext, si: int, lex: Lexicon) -> bool:
    """False when sentence ``si`` has no speech verb among its words, so no attribution pattern can match in it."""
    return lex.verb_words is None or not ctx.layout.sentences or not lex.verb_words.isdisjoint(ctx.sentence_words(si))


def _only_quote(text: str, ctx: DocContext, q: Quote) -> bool:
    pa, pb = ctx.layout.paragraphs[q.para]
    return q.open == pa and not text[q.close : pb].strip(" .,")


def _mask(text: str, quotes: list[Quote]) -> str:
    chars = list(text)
    for q in quotes:
        for x, y in q.parts:
            chars[x:y] = _NOT_NEWLINE.sub(" ", text[x:y])  # blank every character of the part but line breaks
    return "".join(chars)


def _outlet(masked: str, ctx: DocContext, a: int, b: int, lex: Lexicon, near: tuple[int, int] | None = None) -> Candidate | None:
    """The outlet that reports what is said in [a, b): "according to X", "told X"; the cue nearest to
    ``near`` (the quote) when given, else the last."""
    best: tuple[int, Candidate] | None = None
    for m in lex.outlet_re.finditer(masked, a, b):
        c = ctx.mention_at(m.end())
        if c is None and masked[m.end() : m.end() + 4] == "the ":
            c = ctx.mention_at(m.end() + 4)
        if c is not None and ctx.entity(c).type in ("OUTLET", "ORG", "OTHER", "WORK"):
            d = 0 if near is None else max(near[0] - m.end(), m.start() - near[1], 0)
            if best is None or d <= best[0]:
                best = (d, c)
    return best[1] if best else None


def _venue(text: str, masked: str, ctx: DocContext, a: int, b: int, lex: Lexicon) -> tuple[str | None, Candidate | None]:
    """The venue (show, podcast, book) named in [a, b) after a venue cue; a bare "in the book" takes the
    document's most recent work."""
    if lex.any_venue is not None and not lex.any_venue.search(masked, a, b):
        return None, None
    best: tuple[int, str | None, Candidate | None] | None = None
    for rx, kind in lex.venues:
        for m in rx.finditer(masked, a, b):
            pos = m.end()
            while pos < len(text) and text[pos] in "\"\u201c'\u2018 ,":
                pos += 1
            c = ctx.mention_at(pos)
            if c is not None and ctx.entity(c).type in ("WORK", "OTHER", "OUTLET", "ORG", "EVENT"):
                cand = (m.start(), ctx.entity(c).name, c)
            elif kind == "book":
                works = [w for w in ctx.mentions_in(0, m.start()) if ctx.entity(w).type == "WORK"]
                cand = (m.start(), ctx.entity(works[-1]).name, works[-1]) if works else None
            else:
                cand = None
            if cand and (best is None or cand[0] > best[0]):
                best = cand
    return (best[1], best[2]) if best else (None, None)


def _is_title(ctx: DocContext, text: str, q: Quote) -> bool:
    """A quoted name of a work ("The Actor's Life: A Survival Guide"): a title, not words someone said."""
    if len(q.parts) != 1:
        return False
    x, y = q.parts[0]
    body = text[x:y].strip().rstrip(",.!?").strip()
    return any(ctx.entity(c).type == "WORK" and c.text == body for c in ctx.mentions_in(x, y))


def _split_groups(text: str, quotes: list[Quote]) -> list[list[Quote]]:
    """Attributed quotes, with the parts of one quotation split by its attribution ("A," she said, "B") joined."""
    groups: list[list[Quote]] = []
    for q in quotes:
        if q.speaker is None:
            continue
        if groups:
            last = groups[-1][-1]
            comma = text[last.parts[-1][0] : last.parts[-1][1]].rstrip().endswith(",") or text[last.close : last.close + 2].lstrip().startswith(",")
            if comma and last.para == q.para and last.speaker is not None and last.speaker.entity_id == q.speaker.entity_id:
                groups[-1].append(q)
                continue
        groups.append([q])
    return groups


def _quote_claim(ctx: DocContext, text: str, masked: str, group: list[Quote], lex: Lexicon, settings: ExtractSettings) -> Claim | None:
    """One quote claim from the parts of one quotation."""
    layout = ctx.layout
    body = " ".join(_quote_text(text, q) for q in group)
    if len(re.findall(r"\w+", body)) < settings.min_quote_words:
        return None
    named = [q for q in group if q.rule != "continuation"] or group
    head = named[0]
    spans = [(q.open, q.close) for q in group] + [q.attr for q in group if q.attr]
    a, b = min(x for x, _ in spans), max(y for _, y in spans)
    pa = layout.paragraphs[group[0].para][0]
    ctx_end = layout.sentences[layout.sentence_at(b - 1)].end if layout.sentences else b
    predicate, modality, _obj = lex.verbs.get(head.verb, ("said", "asserted", False))
    venue, _ = _venue(text, masked, ctx, pa, ctx_end, lex)
    outlet = _outlet(masked, ctx, pa, ctx_end, lex)
    if outlet is not None and set(name_key(ctx.entity(outlet).name).split()) <= set(name_key(ctx.entity(head.speaker).name).split()):
        outlet = None  # "According to Brennagh, ... she writes": the speaker, not a reporting outlet
    s0 = layout.sentences[layout.sentence_at(a)].start if layout.sentences else a
    time = ctx.time_near(s0, ctx_end, head.attr[1] if head.attr else a)
    conf = settings.quote_continuation_confidence if head.rule == "continuation" else settings.quote_confidence
    rule = head.rule + ("+split" if len(group) > 1 else "")
    return make_claim(
        ctx, "quote", predicate, a, b, f"quotes.direct:{rule}", conf, subject=head.speaker, time=time,
        quote_text=body, venue=venue, outlet=ctx.entity(outlet).name if outlet else None, modality=modality,
    )  # fmt: skip


def _paragraph_outlets(ctx: DocContext, claims: list[Claim]) -> list[Claim]:
    """A quote with no outlet takes the one its speaker's other quote in the same paragraph names
    ("'...misquoted.' He continued telling Outlet, '...'")."""
    layout = ctx.layout
    para = [layout.sentences[layout.sentence_at(c.start)].para if layout.sentences else 0 for c in claims]
    out = []
    for c, p in zip(claims, para, strict=True):
        if c.outlet is None:
            same = [o for o, q in zip(claims, para, strict=True) if q == p and o.outlet and o.subject_entity_id == c.subject_entity_id]
            if same:
                c = replace(c, outlet=min(same, key=lambda o: abs(o.start - c.start)).outlet, extractor=c.extractor + "+paragraph_outlet")
        out.append(c)
    return out


def _nested(ctx: DocContext, text: str, q: Quote, lex: Lexicon, settings: ExtractSettings) -> list[Claim]:
    """Quotes inside a quote ("he turned to me and whispered, 'You're my favorite ...'"): the inner
    speaker is found inside the outer quote ("I" is the outer speaker); the claim is reported speech."""
    out = []
    for x, y in q.parts:
        for o in _NESTED_OPEN.finditer(text, x, y):
            close = _NESTED_CLOSE.search(text, o.end(), y)
            end = close.start() if close else y
            body = text[o.end() : end].strip().rstrip(",").strip()
            if len(re.findall(r"\w+", body)) < settings.min_quote_words:
                continue
            lead_start = x
            for stop in re.finditer(r"[.!?\u2026]\s", text[x : o.start()]):
                lead_start = x + stop.end()
            m = lex.nested_re.search(text, lead_start, o.start())
            if not m:
                continue
            spk = m.group("spk")
            if spk == "I":
                who = q.speaker
            elif spk.lower() in ("he", "she"):
                want = spk.lower()
                inside = [c for c in ctx.mentions_in(x, m.start()) if ctx.entity(c).type == "PERSON" and ctx.gender_fits(c, want)]
                who = inside[-1] if inside else ctx.resolve_pronoun(want, q.open)
            else:
                found = [c for c in ctx.mentions_in(m.start("spk"), m.end("spk")) if ctx.entity(c).type == "PERSON"]
                who = found[-1] if found else None
            if who is None:
                continue
            predicate, _modality, _obj = lex.verbs.get(m.group("verb"), ("said", "asserted", False))
            b = close.end() if close else end
            out.append(
                make_claim(
                    ctx, "quote", predicate, m.start("spk"), b, "quotes.nested", settings.indirect_confidence,
                    subject=who, quote_text=body, modality="reported",
                )  # fmt: skip
            )
    return out


def extract_quotes(ctx: DocContext, settings: ExtractSettings) -> list[Claim]:
    """Quote claims of one document (direct, nested, indirect, remarked), with venue, outlet and time."""
    lex = lexicon()
    text = ctx.text
    quotes = [q for q in find_quotes(text, ctx, settings.quote_carry_paragraphs) if not _is_title(ctx, text, q)]
    ctx.quote_spans = [(q.parts[0][0], q.parts[-1][1]) for q in quotes]
    masked = _mask(text, quotes)
    _attribute(text, masked, ctx, quotes, lex)
    claims: list[Claim] = []
    for group in _split_groups(text, quotes):
        claim = _quote_claim(ctx, text, masked, group, lex, settings)
        if claim is not None:
            claims.append(claim)
    claims = _paragraph_outlets(ctx, claims)
    for q in quotes:
        claims += _nested(ctx, text, q, lex, settings)
    claims += _indirect(text, masked, ctx, lex, settings)
    remarks = _remarks(masked, ctx, lex, settings)
    return _context_time(ctx, claims, remarks)


def _indirect(text: str, masked: str, ctx: DocContext, lex: Lexicon, settings: ExtractSettings) -> list[Claim]:
    """Reported speech: "X said (that) CLAUSE" in a sentence where the verb introduces no direct quote."""
    out = []
    verbs = frozenset(lex.verbs)
    for si, s in enumerate(ctx.layout.sentences):
        if verbs.isdisjoint(ctx.sentence_words(si)) or any(a < s.end and b > s.start for a, b in ctx.quote_spans):
            continue
        seg = masked[s.start : s.end]
        # a match holds a speech verb, with its speaker shortly before it: start scanning near the first verb
        first = next((w.start() for w in _LOWER_WORD.finditer(seg) if w.group() in verbs), 0)
        for m in lex.indirect_re.finditer(seg, max(0, first - settings.speaker_reach_chars)):
            verb = m.group("verb")
            predicate, modality, takes_obj = lex.verbs[verb]
            if m.group("obj") and not takes_obj:
                continue
            # reported speech needs "that" or a clause that opens with its own subject
            mode = lex.indirect.get(verb, "no")
            if mode == "no" or (not m.group("that") and (mode == "that" or not _CLAUSE_SUBJECT.match(m.group("clause")))):
                continue
            if m.group("spk").lower() == "they":
                continue
            clause = m.group("clause").strip().rstrip(".!?,;:").strip()
            if clause.endswith("?") or len(re.findall(r"\w+", clause)) < settings.min_quote_words:
                continue
            spk = _speaker(ctx, m, s.start)
            if spk is None or ctx.entity(spk).type != "PERSON":
                continue
            a = s.start + m.start("spk")
            b = s.start + m.start("clause") + len(m.group("clause").rstrip().rstrip(".!?,;:"))
            time = ctx.time_near(s.start, s.end, s.start + m.end("verb"))
            outlet = _outlet(masked, ctx, ctx.layout.paragraphs[s.para][0], s.end, lex)
            venue, _ = _venue(text, masked, ctx, s.start, s.end, lex)
            out.append(
                make_claim(
                    ctx,
                    "quote",
                    predicate,
                    a,
                    b,
                    "quotes.indirect",
                    settings.indirect_confidence,
                    subject=spk,
                    time=time,
                    quote_text=clause,
                    venue=venue,
                    outlet=ctx.entity(outlet).name if outlet else None,
                    modality="denied" if modality == "denied" else "reported",
                )
            )
            break
    return out


def _remarks(masked: str, ctx: DocContext, lex: Lexicon, settings: ExtractSettings) -> list[Claim]:
    """"X's comments ... made headlines" with a time in the sentence: a remark reported without its words."""
    out = []
    for si, s in enumerate(ctx.layout.sentences):
        if lex.remark_nouns.isdisjoint(ctx.sentence_words(si)):
            continue
        for m in lex.remark_re.finditer(masked, s.start, s.end):
            found = [c for c in ctx.mentions_in(m.start("spk"), m.end("spk")) if ctx.entity(c).type == "PERSON"]
            if not found:
                continue
            time = ctx.time_near(s.start, s.end, m.start())
            if time is None:
                continue
            a, b = min(m.start(), time.start), m.end()
            out.append(
                make_claim(ctx, "quote", "remarked", a, b, "quotes.remarked", settings.remark_confidence, subject=found[-1], time=time)
            )
            break
    return out


def _context_time(ctx: DocContext, claims: list[Claim], remarks: list[Claim]) -> list[Claim]:
    """Give a remark's time to the same speaker's next untimed quote in the same or next paragraph; that
    quote then stands for the remark, which is kept as its own claim only when no quote took its time."""
    out = list(claims)
    kept = []
    for r in remarks:
        rp = ctx.layout.sentences[ctx.layout.sentence_at(r.start)].para
        absorbed = False
        for k, c in sorted(enumerate(out), key=lambda kc: kc[1].start):
            cp = ctx.layout.sentences[ctx.layout.sentence_at(c.start)].para
            if c.start > r.end and c.subject_entity_id == r.subject_entity_id and c.quote_text and cp <= rp + 1:
                if c.time_value is None:
                    times = {f: getattr(r, f) for f in CLAIM_TIME_FIELDS}
                    out[k] = replace(c, **times, extractor=c.extractor + "+context_time")
                    absorbed = True
                break
        if not absorbed:
            kept.append(r)
    return out + kept
