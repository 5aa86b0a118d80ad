"""Text and value normalization shared by grouping and comparison, driven by rule data.

Needs: the TSV tables under ``flows/rules/reconcile/`` named in ``ReconcileSettings``.
Adds: a ``Lexicon`` (spelling variants, paraphrases, predicate families, place containment)
and pure helpers that turn quotes, names, places and TIMEX values into comparable keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from wordfreq import top_n_list, zipf_frequency

from flows.errors import RuleError
from flows.rules import load_table, wordfreq_for_now
from flows.settings import ReconcileSettings

_WORD = re.compile(r"[^\W_]++(?:['’][^\W_]++)*+")  # possessive: the same matches, no backtracking state
_APOSTROPHE_LOOKALIKES = ("’", "‘", "`")
_NAME_DROP = re.compile(r"^(?:the|a|an)\s+|['’]s\b|[^\w\s]")
_SPACES = re.compile(r"\s+")
_TIMEX = re.compile(r"^(\d{4}|XXXX)(?:-(\d{2}|XX)(?:-(\d{2}))?)?$")


@dataclass(frozen=True)
class PredicateRule:
    """How one predicate is grouped and compared (a row of predicate_families.tsv)."""

    family: str
    object_role: str  # identifies | value | none
    value_kind: str  # time | place | number | age | first | person | value
    is_prefix: bool = False
    recurs: bool = False  # one subject can do it again: far-apart dates are separate events


@dataclass(frozen=True)
class Lexicon:
    """The reconcile rule tables, loaded once per settings."""

    spelling: dict[str, str]
    paraphrases: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]  # first word -> (phrase, canonical)
    predicates: dict[str, PredicateRule]
    prefixes: tuple[tuple[str, PredicateRule], ...]
    containers: dict[str, str]  # normalized place -> normalized container
    place_aliases: dict[str, str]
    display_places: dict[str, str]  # normalized place -> spelling in the table
    titles: frozenset[str] = frozenset()  # words written before a person's name: "officer", "ms", ...

    def predicate_rule(self, predicate: str) -> PredicateRule:
        """The rule for a predicate; unknown predicates identify events by their object and compare time."""
        rule = self.predicates.get(predicate)
        if rule is not None:
            return rule
        for prefix, prule in self.prefixes:
            if predicate.startswith(prefix):
                return PredicateRule(predicate, prule.object_role, prule.value_kind, True, prule.recurs)
        return PredicateRule(predicate, "identifies", "time")

    def place_chain(self, place_key: str) -> tuple[str, ...]:
        """The place and every place that contains it, innermost first."""
        chain = [place_key]
        seen = {place_key}
        while (up := self.containers.get(chain[-1])) is not None and up not in seen:
            chain.append(up)
            seen.add(up)
        return tuple(chain)


def _read_table(name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    return [{c: r[c].strip() for c in columns} for r in load_table(name, columns, nonempty=columns)]


def straight_apostrophes(text: str) -> str:
    """The text with curly quotes and backticks written as "'".

    str.replace per mark, not str.translate: translate takes its slow per-character path on any
    non-ASCII text (2 ms for a 5 KB article against microseconds).
    """
    for mark in _APOSTROPHE_LOOKALIKES:
        if mark in text:
            text = text.replace(mark, "'")
    return text


def words(text: str) -> list[str]:
    """Lower-cased words of a text, apostrophes straightened, punctuation dropped."""
    return _WORD.findall(straight_apostrophes(text).lower())


@lru_cache(maxsize=100_000)
def name_key(name: str | None) -> str:
    """A comparable key for an entity or value name: lower case, no leading article, no punctuation."""
    if not name:
        return ""
    s = straight_apostrophes(name).lower().strip()
    s = _NAME_DROP.sub(" ", s)
    s = _NAME_DROP.sub(" ", s.strip())  # a second pass catches "the" exposed by dropped quote marks
    return _SPACES.sub(" ", s).strip()


@lru_cache(maxsize=4)
def load_lexicon(settings: ReconcileSettings) -> Lexicon:
    """Read the reconcile rule tables named in settings."""
    spelling = {
        r["variant"].lower(): r["canonical"].lower()
        for r in _read_table(settings.spelling_rules, ("variant", "canonical", "provenance", "example"))
    }
    phrases: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for r in _read_table(settings.paraphrase_rules, ("phrase", "canonical", "provenance", "example")):
        src, dst = tuple(words(r["phrase"])), tuple(words(r["canonical"]))
        if not src:
            raise RuleError(f"rule file {settings.paraphrase_rules}: phrase {r['phrase']!r} has no words")
        phrases.setdefault(src[0], []).append((src, dst))
    predicates: dict[str, PredicateRule] = {}
    prefixes = []
    cols = ("predicate", "family", "object_role", "value_kind", "recurs", "provenance", "example")
    for r in _read_table(settings.predicate_rules, cols):
        if r["object_role"] not in ("identifies", "value", "none"):
            raise RuleError(f"rule file {settings.predicate_rules}: object_role {r['object_role']!r} unknown")
        if r["recurs"] not in ("yes", "no"):
            raise RuleError(f"rule file {settings.predicate_rules}: recurs must be yes or no, found {r['recurs']!r}")
        rule = PredicateRule(r["family"], r["object_role"], r["value_kind"], r["predicate"].endswith(":"),
                             r["recurs"] == "yes")
        if rule.is_prefix:
            prefixes.append((r["predicate"], rule))
        else:
            predicates[r["predicate"]] = rule
    containers: dict[str, str] = {}
    display: dict[str, str] = {}
    for r in _read_table(settings.place_rules, ("place", "container", "provenance", "example")):
        containers[name_key(r["place"])] = name_key(r["container"])
        display.setdefault(name_key(r["place"]), r["place"])
        display.setdefault(name_key(r["container"]), r["container"])
    aliases = {
        name_key(r["alias"]): name_key(r["place"])
        for r in _read_table(settings.place_alias_rules, ("alias", "place", "provenance", "example"))
    }
    titles = frozenset(name_key(r["title"]) for r in _read_table(settings.person_title_rules,
                                                                  ("title", "provenance", "example")))
    # longest phrases first so "can not" wins over a shorter phrase starting with "can"
    ordered = {k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in phrases.items()}
    return Lexicon(spelling, ordered, predicates, tuple(prefixes), containers, aliases, display, titles)


def person_key(name: str | None, lex: Lexicon) -> str:
    """A name key without the title phrase before the name: 'CHP Officer Bo Lind' -> 'bo lind', 'Ms Lind' -> 'lind'.

    Everything up to the last title word goes (an organisation before a title names the office, not
    the person); a name that is only titles keeps its words.
    """
    return _person_key(name, lex.titles)


@lru_cache(maxsize=100_000)
def _person_key(name: str | None, titles: frozenset[str]) -> str:
    # cached on the name and the title words (all it depends on): grouping asks for every claim's subject
    # several times, and a few hundred speakers recur over thousands of claims
    key = name_key(name)
    ws = key.split()
    last = max((i for i, w in enumerate(ws) if w in titles), default=-1)
    return " ".join(ws[last + 1 :]) if 0 <= last < len(ws) - 1 else key


def quote_words(text: str, lex: Lexicon) -> tuple[str, ...]:
    """Words of a quote with spelling variants and paraphrases mapped to their canonical form."""
    return aligned_quote_words(words(text), lex)[0]


def aligned_quote_words(raw: list[str], lex: Lexicon) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Canonical words of a word list, and for each the index of the raw word it came from."""
    toks = list(map(lex.spelling.get, raw, raw))
    if lex.paraphrases.keys().isdisjoint(toks):
        # no word starts a paraphrase (the common case): the words map one to one
        return tuple(toks), tuple(range(len(toks)))
    out: list[str] = []
    src_index: list[int] = []
    i = 0
    n = len(toks)
    while i < n:
        for src, dst in lex.paraphrases.get(toks[i], ()):
            if tuple(toks[i : i + len(src)]) == src:
                out.extend(dst)
                src_index.extend([i] * len(dst))
                i += len(src)
                break
        else:
            out.append(toks[i])
            src_index.append(i)
            i += 1
    return tuple(out), tuple(src_index)


@lru_cache(maxsize=8)
def common_words(zipf: float, scan: int = 5000) -> frozenset[str]:
    """English words at least this frequent (wordfreq zipf): too common to tell two quotes apart.

    Read once from wordfreq's ranked list: a per-word lookup is slow on large batches. Reconcile needs
    these few thousand words, not wordfreq's tables, which would stay through the grouping, its peak.
    """
    with wordfreq_for_now():
        return frozenset(w for w in top_n_list("en", scan) if zipf_frequency(w, "en") >= zipf)


def content_words(toks: Iterable[str], zipf: float) -> frozenset[str]:
    """The set of a quote's words that are not very common English words."""
    common = common_words(zipf)
    # single letters ("v" left by a spinner, initials) tell nothing apart
    return frozenset(t for t in toks if len(t) > 1 and t not in common)


def place_key(place: str | None, lex: Lexicon) -> str:
    """A comparable place key with aliases resolved."""
    key = name_key(place)
    return lex.place_aliases.get(key, key)


@dataclass(frozen=True)
class TimeSpan:
    """A claim's time as an interval; unanchored times keep only the month/day pattern."""

    value: str
    start: date | None
    end: date | None
    granularity: str | None
    anchored: bool
    month: int | None = None  # for unanchored values like XXXX-01
    day: int | None = None


def _add_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


@lru_cache(maxsize=100_000)  # pure on the value and TimeSpan is frozen; claims repeat a few hundred values
def parse_timex(value: str | None) -> TimeSpan | None:
    """Interval of a TIMEX3 date value (YYYY, YYYY-MM, YYYY-MM-DD, XXXX-MM); None if not a date."""
    if not value:
        return None
    m = _TIMEX.match(value)
    if not m:
        return None
    y, mo, d = m.group(1), m.group(2), m.group(3)
    month = int(mo) if mo and mo != "XX" else None
    day = int(d) if d else None
    if month is not None and not 1 <= month <= 12:
        return None
    if y == "XXXX":
        gran = "day" if day else ("month" if month else None)
        return TimeSpan(value, None, None, gran, False, month, day)
    year = int(y)
    try:
        if month is None:
            return TimeSpan(value, date(year, 1, 1), date(year + 1, 1, 1), "year", True)
        first = date(year, month, 1)
        if day is None:
            return TimeSpan(value, first, _add_month(first), "month", True, month)
        start = date(year, month, day)
    except ValueError:
        return None
    return TimeSpan(value, start, date.fromordinal(start.toordinal() + 1), "day", True, month, day)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def describe_time(span: TimeSpan) -> str:
    """A human phrase for a time: 'July 2010', '2016', 'January (year unknown)'."""
    if not span.anchored:
        if span.month is None:
            return f"{span.value} (year unknown)"
        day = f" {span.day}" if span.day else ""
        return f"{_MONTHS[span.month - 1]}{day} (year unknown)"
    if span.start is None:
        return span.value
    if span.granularity == "day" and span.end and (span.end - span.start).days == 1:
        return f"{_MONTHS[span.start.month - 1]} {span.start.day}, {span.start.year}"
    if span.granularity == "month":
        return f"{_MONTHS[span.start.month - 1]} {span.start.year}"
    if span.granularity == "year":
        return str(span.start.year)
    end = span.end.isoformat() if span.end else "?"
    return f"{span.value} [{span.start.isoformat()}, {end})"
