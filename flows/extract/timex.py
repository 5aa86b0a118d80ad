"""Temporal tagger: find TIMEX3-style expressions in a text and normalize them.

Needs: a text (normalized_text of a RepairedDocument, or any string) and optionally an anchor
date (the document date) against which relative expressions ("last year", "Friday") resolve.
Adds: a tuple of ``records.Timex`` sorted by offset, each with TimeML type/value, granularity,
``mod`` and, for resolvable DATEs, the interval ``[time_start, time_end)``.

Design: the word lists (months, weekdays, numbers, units, seasons, modifiers, relative cues,
holidays, tense cues) are data files under ``flows/rules/timex/``; the grammar below assembles
them into one compiled alternation that scans the whole text once. Alternatives are ordered
most specific first, so at a given position the longest reading wins. Each hit is re-matched by
its own rule's regex to read its parts, then normalized by that rule's handler.

Conventions (TimeML/TIMEX3 guidelines, TempEval-3 practice):
- Extents include determiners and leading modifiers ("the past two years", "almost seven
  years", "early December", "late last July") but not prepositions ("in", "on", "since").
- ``mod`` carries START/MID/END (early/mid/late), APPROX, LESS_THAN, MORE_THAN, ...
- "N units ago" and "N units from now" are one DATE (anchor shifted by N units, at the unit's
  granularity); without an anchor the value is "XXXX" and ``anchored`` is False.
- Without an anchor, an expression lacking its year ("In January", "on Friday", "December 3")
  is never guessed: value ``XXXX-01`` / ``XXXX-WXX-5`` / ``XXXX-12-03``, ``anchored=False``,
  no interval. With an anchor, a month/weekday without a year resolves to the nearest one
  before the anchor, or after it when a future cue ("will", "is due to", "until") precedes it
  in the sentence and no past-tense verb ("killed", "said"; rules/timex/past_cues.tsv) stands
  between the cue and the expression: the latest tense cue decides.
- Year ranges ("2005-13", "2001-03", "1957-58", "2009-2010") are ONE DATE timex covering
  the whole span: value ``"2005/2013"`` (ISO 8601 interval notation at year precision),
  granularity "year", interval [2005-01-01, 2014-01-01), rule "abs:year_range". TempEval-3
  annotates each endpoint as its own DATE; ``te3_view`` splits ranges that way for scoring.
- PRESENT_REF/PAST_REF/FUTURE_REF ("now", "the past", "the future") carry no interval.
- ``rule`` is "abs:<name>" when the value comes from the text alone (an explicit year) and
  "rel:<name>" when it depends on the anchor; document-date inference uses only "abs:" ones.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from flows.records import Timex
from flows.rules import load_table
from flows.settings import RULES_DIR, ExtractSettings

TIMEX_RULES_DIR = RULES_DIR / "timex"

# ---------------------------------------------------------------------------------------------
# Lexicons (data files)


def load_rules_tsv(name: str, columns: Sequence[str]) -> tuple[dict[str, str], ...]:
    """Rows of a TSV under flows/rules/timex/, each checked to have the columns, a source and an example."""
    cols = (*columns, "source", "example")
    return load_table(f"timex/{name}", cols, nonempty=cols)


@dataclass(frozen=True)
class _Lexicon:
    months: dict[str, int]  # lower-cased term -> 1..12
    month_full: tuple[str, ...]
    month_plain: tuple[str, ...]  # full names that are not also common words
    month_abbr: tuple[str, ...]
    weekdays: dict[str, int]  # lower-cased term -> ISO weekday
    weekday_full: tuple[str, ...]
    weekday_abbr: tuple[str, ...]
    numbers: dict[str, str]  # term -> number or "X"
    units: dict[str, tuple[str, str]]  # term -> (unit code, granularity)
    seasons: dict[str, tuple[str, int]]  # term -> (code, start month)
    parts_of_day: dict[str, str]
    relative: dict[str, int]
    modifiers: dict[str, str]
    vague: dict[str, str]
    sets: dict[str, str]
    holidays: dict[str, str]  # lower-cased term -> "MM-DD" or "MM:nth:isoweekday"
    holiday_terms: tuple[str, ...]
    future_cues: tuple[str, ...]
    past_cues: dict[str, frozenset[str]]  # kind ("past", "not_past", "aux", "determiner") -> lower-cased terms
    article_sensitive_units: tuple[str, ...]  # units that read as ordinals/fractions after "a"
    ordinals: dict[str, int]
    decades: dict[str, int]  # "nineties" -> 9
    deictic: dict[str, tuple[int, str | None]]  # "yesterday" -> (-1, None), "tonight" -> (0, "NI")
    month_cues: tuple[str, ...]
    timezones: tuple[str, ...]


def _by_kind(rows: Sequence[dict[str, str]]) -> dict[str, frozenset[str]]:
    kinds: dict[str, set[str]] = {}
    for r in rows:
        kinds.setdefault(r["kind"], set()).add(r["term"].lower())
    return {k: frozenset(v) for k, v in kinds.items()}


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    months = load_rules_tsv("months.tsv", ("term", "month", "form"))
    weekdays = load_rules_tsv("weekdays.tsv", ("term", "isoweekday", "form"))
    holidays = load_rules_tsv("holidays.tsv", ("term", "date"))
    units = load_rules_tsv("units.tsv", ("term", "unit", "granularity", "after_article"))
    return _Lexicon(
        months={r["term"].lower(): int(r["month"]) for r in months},
        month_full=tuple(r["term"] for r in months if r["form"] in ("full", "ambiguous")),
        month_plain=tuple(r["term"] for r in months if r["form"] == "full"),
        month_abbr=tuple(r["term"] for r in months if r["form"] == "abbr"),
        weekdays={r["term"].lower(): int(r["isoweekday"]) for r in weekdays},
        weekday_full=tuple(r["term"] for r in weekdays if r["form"] == "full"),
        weekday_abbr=tuple(r["term"] for r in weekdays if r["form"] == "abbr"),
        numbers={r["term"].lower(): r["value"] for r in load_rules_tsv("numbers.tsv", ("term", "value"))},
        units={r["term"]: (r["unit"], r["granularity"]) for r in units},
        seasons={
            r["term"]: (r["code"], int(r["start_month"])) for r in load_rules_tsv("seasons.tsv", ("term", "code", "start_month"))
        },
        parts_of_day={r["term"]: r["code"] for r in load_rules_tsv("parts_of_day.tsv", ("term", "code"))},
        relative={r["term"]: int(r["shift"]) for r in load_rules_tsv("relative.tsv", ("term", "shift"))},
        modifiers={r["term"]: r["mod"] for r in load_rules_tsv("modifiers.tsv", ("term", "mod"))},
        vague={r["term"]: r["value"] for r in load_rules_tsv("vague.tsv", ("term", "value"))},
        sets={r["term"]: r["value"] for r in load_rules_tsv("sets.tsv", ("term", "value"))},
        holidays={r["term"].lower(): r["date"] for r in holidays},
        holiday_terms=tuple(r["term"] for r in holidays),
        future_cues=tuple(r["term"] for r in load_rules_tsv("future_cues.tsv", ("term",))),
        past_cues=_by_kind(load_rules_tsv("past_cues.tsv", ("term", "kind"))),
        article_sensitive_units=tuple(r["unit"] for r in units if r.get("after_article") == "no"),
        ordinals={r["term"]: int(r["value"]) for r in load_rules_tsv("ordinals.tsv", ("term", "value"))},
        decades={r["term"]: int(r["tens"]) for r in load_rules_tsv("decades.tsv", ("term", "tens"))},
        deictic={
            r["term"]: (int(r["shift_days"]), None if r["part_of_day"] == "-" else r["part_of_day"])
            for r in load_rules_tsv("deictic.tsv", ("term", "shift_days", "part_of_day"))
        },
        month_cues=tuple(r["term"] for r in load_rules_tsv("month_cues.tsv", ("term",))),
        timezones=tuple(r["term"] for r in load_rules_tsv("timezones.tsv", ("term", "utc_offset"))),
    )


def _alt(terms: Sequence[str]) -> str:
    """A regex matching any of the literal terms (longest first), any whitespace between words.

    Built as a character trie, so the regex engine checks one branch per character instead of
    trying every term at every position (the scan's cost is dominated by these alternations).
    """
    trie: dict = {}
    for term in terms:
        node = trie
        for tok in re.split(r"(\s+)", term.strip()):
            for ch in [r"\s+"] if tok.isspace() else [re.escape(c) for c in tok]:
                node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        end = "" in node
        branches = [ch + emit(child) for ch, child in node.items() if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else body + "?"
        return body

    return "(?:" + emit(trie) + ")"


def _lower_or_title(terms: Sequence[str]) -> str:
    """Terms as written or capitalized, never ALL CAPS ("TODAY" and "Daily" are names of outlets and shows)."""
    forms = {f for t in terms for f in (t, t[:1].upper() + t[1:])}
    return _cs(_alt(sorted(forms)))


def _cs(pattern: str) -> str:
    """Make a sub-pattern case-sensitive inside the case-insensitive grammar (proper names)."""
    return f"(?-i:{pattern})"


# ---------------------------------------------------------------------------------------------
# Calendar arithmetic


def _shift_month(year: int, month: int, k: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + k
    return n // 12, n % 12 + 1


def _year_iv(y: int) -> tuple[date, date] | None:
    if not 1 <= y < 9999:
        return None
    return date(y, 1, 1), date(y + 1, 1, 1)


def _month_iv(y: int, m: int) -> tuple[date, date] | None:
    if not 1 <= y < 9999:
        return None
    ny, nm = _shift_month(y, m, 1)
    return date(y, m, 1), date(ny, nm, 1)


def _day_iv(d: date) -> tuple[date, date]:
    return d, d + timedelta(days=1)


def _week_iv(d: date) -> tuple[date, date]:
    monday = d - timedelta(days=d.isoweekday() - 1)
    return monday, monday + timedelta(days=7)


def _week_value(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y:04d}-W{w:02d}"


def _valid_day(y: int, m: int, d: int) -> bool:
    return 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y if 1 <= y < 9999 else 2000, m)[1]


# ---------------------------------------------------------------------------------------------
# Grammar


@dataclass(frozen=True)
class _Hit:
    type: str
    value: str
    granularity: str | None
    iv: tuple[date, date] | None = None
    anchored: bool = True
    mod: str | None = None


@dataclass(frozen=True)
class _Ctx:
    text: str
    start: int
    anchor: date | None
    future: Callable[[int], bool]
    prev: Timex | None = None  # the timex found just before this one
    ref: date | None = None  # reference time: start of the latest resolved date mentioned before


@dataclass(frozen=True)
class _Rule:
    name: str  # "abs:<id>" or "rel:<id>"
    pattern: str
    handler: Callable[[re.Match[str], _Ctx], _Hit | None]


_FLAGS = re.IGNORECASE


def _num_value(lex: _Lexicon, raw: str) -> str | None:
    """'90' -> '90', 'twenty-four' -> '24', 'several' -> 'X'."""
    s = re.sub(r"\s+", " ", raw.strip().lower())
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return s.rstrip("0").rstrip(".") if "." in s else str(int(s))
    if s in lex.numbers:
        return lex.numbers[s]
    total = 0.0
    for part in re.split(r"[- ]", s):
        v = lex.numbers.get(part)
        if v is None or v == "X":
            return None
        total += float(v)
    return str(int(total)) if total == int(total) else str(total)


def _duration_value(n: str, unit: str) -> str:
    """ISO 8601 / TimeML duration for n units (n may be 'X')."""
    if n != "X":
        x = float(n)
        scale = {"DE": (10, "Y"), "CE": (100, "Y"), "ML": (1000, "Y"), "FN": (14, "D"), "SEM": (6, "M")}
        if unit in scale:
            f, unit = scale[unit]
            x *= f
        n = str(int(x)) if x == int(x) else str(x)
    if unit in ("H", "MIN", "S"):
        return f"PT{n}{'M' if unit == 'MIN' else unit}"
    return f"P{n}{unit}"


def _shift(anchor: date, k: int, unit: str) -> tuple[str, str, tuple[date, date] | None] | None:
    """The calendar unit k units away from anchor, as (value, granularity, interval)."""
    if unit in ("Y", "DE", "CE", "ML"):
        span = {"Y": 1, "DE": 10, "CE": 100, "ML": 1000}[unit]
        y = anchor.year + k * span
        if unit == "Y":
            return f"{y:04d}", "year", _year_iv(y)
        if unit == "DE":
            d0 = y // 10 * 10
            return f"{d0 // 10:03d}", "decade", (date(d0, 1, 1), date(d0 + 10, 1, 1)) if 1 <= d0 < 9980 else None
        if unit == "CE":
            c0 = y // 100 * 100
            return f"{c0 // 100:02d}", "century", (date(max(c0, 1), 1, 1), date(c0 + 100, 1, 1)) if c0 < 9900 else None
        return f"{y // 1000}", "millennium", None
    if unit in ("M", "SEM"):
        y, m = _shift_month(anchor.year, anchor.month, k * (6 if unit == "SEM" else 1))
        return f"{y:04d}-{m:02d}", "month", _month_iv(y, m)
    if unit == "Q":
        q0 = (anchor.month - 1) // 3
        y, m = _shift_month(anchor.year, q0 * 3 + 1, 3 * k)
        y2, m2 = _shift_month(y, m, 3)
        return f"{y:04d}-Q{(m - 1) // 3 + 1}", "quarter", (date(y, m, 1), date(y2, m2, 1))
    if unit in ("W", "FN", "WE"):
        d = anchor + timedelta(weeks=k * (2 if unit == "FN" else 1))
        if unit == "WE":
            sat = d - timedelta(days=d.isoweekday() - 6)
            return _week_value(d) + "-WE", "day", (sat, sat + timedelta(days=2))
        return _week_value(d), "week", _week_iv(d)
    if unit in ("D", "H", "MIN", "S"):
        days = k if unit == "D" else 0
        d = anchor + timedelta(days=days)
        return d.isoformat(), "day", _day_iv(d)
    return None


def _season_year(a: date, start_month: int, k: int) -> int:
    """Year of the season starting in start_month: "last" = latest ended before a, "next" = first
    starting after a, "this" = the one of a's year (a winter of Dec-Feb belongs to December's year)."""
    def bounds(y: int) -> tuple[date, date]:
        y2, m2 = _shift_month(y, start_month, 3)
        return date(y, start_month, 1), date(y2, m2, 1)

    if k < 0:
        y = a.year
        while bounds(y)[1] > a:
            y -= 1
        return y
    if k > 0:
        y = a.year - 1
        while bounds(y)[0] <= a:
            y += 1
        return y
    return a.year - 1 if start_month == 12 and a.month < start_month - 9 else a.year


def _month_year_for(ctx: _Ctx, month: int, day: int | None = None) -> int | None:
    """The year of a month (and day) named without a year: nearest past, or future on a cue."""
    a = ctx.anchor
    if a is None:
        return None
    key, akey = (month, day or 0), (a.month, a.day if day else 0)
    if ctx.future(ctx.start):
        return a.year if key >= akey else a.year + 1
    return a.year if key <= akey else a.year - 1


def _weekday_date(ctx: _Ctx, wd: int, shift: int | None) -> date | None:
    """Date of an ISO weekday near the anchor; shift -1 'last', +1 'next', 0 'this', None bare."""
    a = ctx.anchor
    if a is None:
        return None
    back = (a.isoweekday() - wd) % 7  # days back to the most recent such weekday (0 = today)
    if shift == -1:
        return a - timedelta(days=back or 7)
    if shift == 1:
        return a + timedelta(days=(wd - a.isoweekday()) % 7 or 7)
    if shift == 0:
        return a + timedelta(days=wd - a.isoweekday())
    if ctx.future(ctx.start):
        return a + timedelta(days=(wd - a.isoweekday()) % 7)
    return a - timedelta(days=back)


_UNKNOWN = {"year": "XXXX", "decade": "XXX", "century": "XX", "quarter": "XXXX-QX", "month": "XXXX-XX", "week": "XXXX-WXX"}


def _unknown(granularity: str | None) -> str:
    """TimeML value for a relative date whose anchor is unknown, at its granularity."""
    return _UNKNOWN.get(granularity or "", "XXXX-XX-XX")


def _g(m: re.Match[str], name: str) -> str | None:
    try:
        return m.group(name)
    except IndexError:
        return None


def _mod(lex: _Lexicon, m: re.Match[str]) -> str | None:
    raw = _g(m, "mod")
    if not raw:
        return None
    key = re.sub(r"[\s-]+", " ", raw.strip().lower())
    return lex.modifiers.get(key)


def _build_rules(lex: _Lexicon) -> list[_Rule]:  # noqa: C901 - one grammar, read top to bottom
    month_full = _cs(_alt(lex.month_full))
    # inside full dates (next to a day or year) headline capitals are safe too: "FEB. 2, 2009"
    month_names = [*lex.month_full, *(t.upper() for t in lex.month_full)]
    month_abbrs = [*lex.month_abbr, *(t.upper() for t in lex.month_abbr)]
    month_any = _cs(f"(?:{_alt(month_names)}|{_alt(month_abbrs)}\\.?)")
    wd_full = _cs(_alt(lex.weekday_full))
    wd_any = _cs(f"(?:{_alt(lex.weekday_full)}|{_alt(lex.weekday_abbr)}\\.)")
    tens = [t for t, v in lex.numbers.items() if v.isdigit() and 20 <= int(v) <= 90]
    ones = [t for t, v in lex.numbers.items() if v.isdigit() and 1 <= int(v) <= 9 and t.isalpha() and len(t) > 2]
    exact = [t for t, v in lex.numbers.items() if v != "X"]
    num = rf"(?:\d+(?:\.\d+)?|{_alt(tens)}[-\s]{_alt(ones)}|{_alt(exact)})"
    vague_q = _alt([t for t, v in lex.numbers.items() if v == "X"])
    units = _alt(list(lex.units))
    unit_forms = _alt([f for u in lex.units for f in (u, u[:-1] + "ies" if re.search(r"[^aeiou]y$", u) else u + "s")])
    seasons = _alt(list(lex.seasons))
    pods = _alt(list(lex.parts_of_day))
    rel = _alt(list(lex.relative))
    mods = _alt(list(lex.modifiers))
    mod_pre = rf"(?:(?P<mod>{mods})(?:\s+|-))?"
    year = r"(?:1[5-9]\d\d|20\d\d)"
    day = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
    lb = r"(?<![\w$£€#@/])(?<!\d[.,:-])"  # not inside a word, number, amount, path or handle
    rb = r"(?![\w%$£€])(?![.,:/-]\d)"
    tz = _cs(_alt(lex.timezones))

    def unit_of(raw: str) -> tuple[str, str]:
        key = raw.lower().rstrip("'").rstrip("s") if raw.lower() not in lex.units else raw.lower()
        if key == "centurie":
            key = "century"
        if key not in lex.units and key.endswith("ie"):
            key = key[:-2] + "y"
        return lex.units.get(key, lex.units.get(raw.lower(), ("X", "")))

    # -- handlers --------------------------------------------------------------------------

    def iso_date(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        y, mo, d = int(m["y"]), int(m["mo"]), int(m["d"])
        if not _valid_day(y, mo, d):
            return None
        dt = date(y, mo, d)
        if m["h"]:
            return _Hit("TIME", f"{dt.isoformat()}T{m['h']}:{m['mi']}", "minute", _day_iv(dt))
        return _Hit("DATE", dt.isoformat(), "day", _day_iv(dt))

    def numeric_date(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        a, b, y = int(m["a"]), int(m["b"]), int(m["y"])
        if len(m["y"]) == 2:
            y += 2000 if y < 50 else 1900
        mo, d = (a, b) if a <= 12 and m["sep"] == "/" else (b, a)
        if not _valid_day(y, mo, d):
            return None
        dt = date(y, mo, d)
        return _Hit("DATE", dt.isoformat(), "day", _day_iv(dt))

    def year_range(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        y1, raw2 = int(m["y1"]), m["y2"]
        if len(raw2) == 2:
            y2 = y1 // 100 * 100 + int(raw2)
            if y2 <= y1:
                if int(raw2) <= 12 and m["sep"] == "-":
                    return _month_hit(y1, int(raw2), None)  # ISO year-month, e.g. "2013-03"
                y2 += 100
        else:
            y2 = int(raw2)
        if not y1 < y2 <= y1 + 100:
            return None
        return _Hit("DATE", f"{y1:04d}/{y2:04d}", "year", (date(y1, 1, 1), date(y2 + 1, 1, 1)), mod=_mod(lex, m))

    def _month_hit(y: int | None, mo: int, mod: str | None) -> _Hit:
        if y is None:
            return _Hit("DATE", f"XXXX-{mo:02d}", "month", None, anchored=False, mod=mod)
        return _Hit("DATE", f"{y:04d}-{mo:02d}", "month", _month_iv(y, mo), mod=mod)

    def month_day(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        mo = lex.months[m["mo"].rstrip(".").lower()]
        d = int(re.match(r"\d+", m["d"]).group())
        y = int(m["y"]) if m["y"] else _month_year_for(ctx, mo, d)
        if y is None:
            if not _valid_day(2000, mo, d):
                return None
            return _Hit("DATE", f"XXXX-{mo:02d}-{d:02d}", "day", None, anchored=False, mod=_mod(lex, m))
        if not _valid_day(y, mo, d):
            return None
        dt = date(y, mo, d)
        return _Hit("DATE", dt.isoformat(), "day", _day_iv(dt), mod=_mod(lex, m))

    def month_year(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        return _month_hit(int(m["y"]), lex.months[m["mo"].rstrip(".").lower()], _mod(lex, m))

    month_cue = re.compile(rf"(?<!\w)(?:{_alt(lex.month_cues)})\s+$", _FLAGS)

    def month_alone(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        name = m["mo"]
        if name not in lex.month_plain and not m["mod"] and not month_cue.search(ctx.text, max(0, ctx.start - 12), ctx.start):
            return None  # "may", "march", "august" are words unless a date cue stands before them
        mo = lex.months[name.lower()]
        return _month_hit(_month_year_for(ctx, mo), mo, _mod(lex, m))

    def season_year(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        code, start = lex.seasons[m["se"].lower()]
        y = int(m["y"])
        y2, m2 = _shift_month(y, start, 3)
        return _Hit("DATE", f"{y:04d}-{code}", "season", (date(y, start, 1), date(y2, m2, 1)), mod=_mod(lex, m))

    def quarter(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        if not (m["qn"] or m["y"] or m["yr"] or m["fiscal"]):
            return None  # "the second half", "the fourth quarter" alone are usually periods of a game
        raw_q = m["qn"] or m["q"]
        q = int(raw_q[0]) if raw_q[0].isdigit() else lex.ordinals[raw_q.lower()]
        if m["half"] and q > 2:
            return None
        if m["y"]:
            y: int | None = int(m["y"])
        elif m["yr"]:  # "of the year": the current one
            y = ctx.anchor.year if ctx.anchor else None
        else:  # "Q4", "the first half of the year": the nearest one, like a month without a year
            y = _month_year_for(ctx, 3 * q - 2 if not m["half"] else 6 * q - 5)
        if m["half"]:
            if y is None:
                return _Hit("DATE", f"XXXX-H{q}", "half", None, anchored=False)
            y2, m2 = _shift_month(y, 6 * q - 5, 6)
            return _Hit("DATE", f"{y:04d}-H{q}", "half", (date(y, 6 * q - 5, 1), date(y2, m2, 1)))
        if y is None:
            return _Hit("DATE", f"XXXX-Q{q}", "quarter", None, anchored=False)
        y2, m2 = _shift_month(y, 3 * q - 2, 3)
        return _Hit("DATE", f"{y:04d}-Q{q}", "quarter", (date(y, 3 * q - 2, 1), date(y2, m2, 1)))


    def decade(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        if m["dec"]:
            d0 = int(m["dec"])
        else:
            two = m["dec2"] or m["dec3"]
            tens = int(two) // 10 if two else lex.decades[m["decw"].lower()]
            century = 1900 if tens > 1 or ctx.anchor is None else ctx.anchor.year // 100 * 100
            d0 = century + tens * 10
        return _Hit("DATE", f"{d0 // 10:03d}", "decade", (date(d0, 1, 1), date(d0 + 10, 1, 1)), mod=_mod(lex, m))


    def century(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        c = int(m["c"]) if m["c"] else lex.ordinals[re.sub(r"[\s-]+", "-", m["cw"].lower())]
        c0 = (c - 1) * 100
        return _Hit("DATE", f"{c - 1:02d}", "century", (date(max(c0, 1), 1, 1), date(c0 + 100, 1, 1)), mod=_mod(lex, m))

    def year_alone(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        if not m["mod"] and _PRODUCT_NAME.search(ctx.text, max(0, ctx.start - 40), ctx.start):
            return None  # "Windows Server 2008", "Office 2007": a name, not a time
        y = int(m["y"])
        return _Hit("DATE", f"{y:04d}", "year", _year_iv(y), mod=_mod(lex, m))

    def relative(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        word = re.sub(r"\s+", " ", m["rel"].lower())
        k = -1 if word == "this past" else lex.relative[word]
        target = m["target"]
        mod = _mod(lex, m)
        unit = unit_of(target)[0] if target.lower() in lex.units else None
        if m["the"] and unit and (word in _ANAPHORIC or (word == "next" and unit in ("D", "WE"))):
            # "the following week", "the next day": relative to the story's reference time, not the document date
            base = ctx.ref or ctx.anchor
            shifted = _shift(base, k, unit) if base else None
            if shifted is None:
                gran = unit_of(target)[1] or None
                return _Hit("DATE", _unknown(gran), gran, None, anchored=False, mod=mod)
            value, gran, iv = shifted
            return _Hit("DATE", value, gran, iv, mod=mod)
        if m["the"] and word in ("past", "coming", "next") and target.lower() in lex.units:
            unit = unit_of(target)[0]
            return _Hit("DURATION", _duration_value("1", unit), None, mod=mod)
        low = target.lower()
        if low in lex.months:
            mo = lex.months[low]
            if ctx.anchor is None:
                return _month_hit(None, mo, mod)
            y = ctx.anchor.year + k
            if k == -1 and mo < ctx.anchor.month:
                y += 1  # "last June" said in March 2013 is June 2012, said in August 2013 June 2013
            if k == 1 and mo > ctx.anchor.month:
                y -= 1
            return _month_hit(y, mo, mod)
        if low in lex.weekdays and target[0].isupper():
            wd = lex.weekdays[low]
            d = _weekday_date(ctx, wd, k)
            return _weekday_hit(d, wd, m, mod)
        if low in lex.seasons:
            code, start = lex.seasons[low]
            if ctx.anchor is None:
                return _Hit("DATE", f"XXXX-{code}", "season", None, anchored=False, mod=mod)
            y = _season_year(ctx.anchor, start, k)
            y2, m2 = _shift_month(y, start, 3)
            return _Hit("DATE", f"{y:04d}-{code}", "season", (date(y, start, 1), date(y2, m2, 1)), mod=mod)
        unit = unit_of(target)[0]
        if ctx.anchor is None:
            gran = unit_of(target)[1] or None
            return _Hit("DATE", _unknown(gran), gran, None, anchored=False, mod=mod)
        shifted = _shift(ctx.anchor, k, unit)
        if shifted is None:
            return None
        value, gran, iv = shifted
        return _Hit("DATE", value, gran, iv, mod=mod)

    def _weekday_hit(d: date | None, wd: int, m: re.Match[str], mod: str | None) -> _Hit:
        pod = _g(m, "pod")
        code = lex.parts_of_day[pod.lower()] if pod else None
        if d is None:
            value = f"XXXX-WXX-{wd}"
            return _Hit("TIME" if code else "DATE", value + (f"T{code}" if code else ""), "day", None, False, mod)
        return _Hit("TIME" if code else "DATE", d.isoformat() + (f"T{code}" if code else ""), "day", _day_iv(d), mod=mod)

    def weekday(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        wd = lex.weekdays[m["wd"].lower()]
        return _weekday_hit(_weekday_date(ctx, wd, None), wd, m, _mod(lex, m))

    deictic_words = _lower_or_title(list(lex.deictic))

    def deictic(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        w = m["w"].lower()
        pod = m["pod"]
        if w not in lex.deictic:  # "this morning"
            w = next(t for t, (k, _) in lex.deictic.items() if k == 0)
        code = lex.parts_of_day[pod.lower()] if pod else lex.deictic[w][1]
        if ctx.anchor is None:
            return _Hit("TIME" if code else "DATE", "XXXX-XX-XX" + (f"T{code}" if code else ""), "day", None, False)
        d = ctx.anchor + timedelta(days=lex.deictic[w][0])
        return _Hit("TIME" if code else "DATE", d.isoformat() + (f"T{code}" if code else ""), "day", _day_iv(d))

    def clock(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        if m["noon"]:
            h, mi = (12, 0) if m["noon"].lower() == "noon" else (24, 0)
        else:
            h, mi = int(m["h"]), int(m["mi"] or 0)
            ampm = re.sub(r"[.\s]", "", (m["ampm"] or "").lower())
            if ampm == "pm" and h < 12:
                h += 12
            elif ampm == "am" and h == 12:
                h = 0
            if h > 24 or mi > 59:
                return None
        d: date | None = None
        wd = m["wd"]
        if wd and wd.lower() in lex.weekdays:
            d = _weekday_date(ctx, lex.weekdays[wd.lower()], None)
        elif wd:
            d = ctx.anchor + timedelta(days=lex.deictic[wd.lower()][0]) if ctx.anchor else None
        elif ctx.prev is not None and ctx.prev.granularity == "day" and ctx.prev.time_start and _AT.fullmatch(
            ctx.text, ctx.prev.end, ctx.start
        ):
            d = ctx.prev.time_start  # "November 30, 2009 at 02:22 pm"
        elif ctx.anchor is not None:
            d = ctx.anchor
        hhmm = f"{h:02d}:{mi:02d}"
        if d is None:
            return _Hit("TIME", f"XXXX-XX-XXT{hhmm}", "minute", None, anchored=False)
        return _Hit("TIME", f"{d.isoformat()}T{hhmm}", "minute", _day_iv(d), anchored=True)

    def duration(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        raw_n = m["n"]
        n = "X" if re.fullmatch(vague_q, raw_n, _FLAGS) else _num_value(lex, raw_n)
        if n is None:
            return None
        unit, gran = unit_of(m["unit"])
        if unit == "X" or (unit in lex.article_sensitive_units and raw_n.lower() in ("a", "an", "one")):
            return None  # "a second time", "one quarter of them" are not durations
        mod = _mod(lex, m)
        tail = (_g(m, "tail") or "").lower()
        if tail:
            sign = -1 if tail.strip() == "ago" else 1
            if n == "X":
                return _Hit("DATE", "PAST_REF" if sign < 0 else "FUTURE_REF", None, mod=mod)
            if ctx.anchor is None:
                return _Hit("DATE", _unknown(gran), gran or None, None, anchored=False, mod=mod)
            k = float(n)
            if k != int(k):
                return _Hit("DATE", "PAST_REF" if sign < 0 else "FUTURE_REF", None, mod=mod)
            shifted = _shift(ctx.anchor, sign * int(k), unit)
            if shifted is None:
                return None
            if unit in ("D",):
                d = ctx.anchor + timedelta(days=sign * int(k))
                return _Hit("DATE", d.isoformat(), "day", _day_iv(d), mod=mod)
            value, g, iv = shifted
            return _Hit("DATE", value, g, iv, mod=mod)
        return _Hit("DURATION", _duration_value(n, unit), None, mod=mod)

    def bare_units(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        unit, _ = unit_of(m["unit"])
        if m["tail"]:
            return _Hit("DATE", "PAST_REF" if m["tail"].strip().lower() == "ago" else "FUTURE_REF", None)
        return _Hit("DURATION", _duration_value("X", unit), None)

    of_after = re.compile(r"\s+of\b", _FLAGS)

    def vague(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        term = re.sub(r"\s+", " ", m["v"].lower())
        if " the " in f" {term} " and of_after.match(ctx.text, m.end()):
            return None  # "the future of the franchise", "at the time of the attack": a noun, not a time
        return _Hit("DATE", lex.vague[term], None)

    def holiday(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        rule = lex.holidays[re.sub(r"\s+", " ", m["hol"].lower())]
        if m["y"]:
            y: int | None = int(m["y"])
        elif ctx.anchor is not None:
            mo = int(rule[:2])
            y = _month_year_for(ctx, mo, 1)
        else:
            y = None
        if "-" in rule:
            mo, d = int(rule[:2]), int(rule[3:])
            if y is None:
                return _Hit("DATE", f"XXXX-{mo:02d}-{d:02d}", "day", None, anchored=False)
            dt = date(y, mo, d)
        else:
            mo_s, nth_s, wd_s = rule.split(":")
            mo, nth, wd = int(mo_s), int(nth_s), int(wd_s)
            if y is None:
                return _Hit("DATE", f"XXXX-{mo:02d}", "day", None, anchored=False)
            days = [d for d in range(1, calendar.monthrange(y, mo)[1] + 1) if date(y, mo, d).isoweekday() == wd]
            dt = date(y, mo, days[nth - 1] if nth > 0 else days[nth])
        return _Hit("DATE", dt.isoformat(), "day", _day_iv(dt), anchored=True)

    def set_rule(m: re.Match[str], ctx: _Ctx) -> _Hit | None:
        if m["sw"]:
            return _Hit("SET", lex.sets[m["sw"].lower()], None)
        target = m["target"]
        low = target.lower()
        if low in lex.weekdays:
            return _Hit("SET", f"XXXX-WXX-{lex.weekdays[low]}", None)
        if low in lex.parts_of_day:
            return _Hit("SET", f"XXXX-XX-XXT{lex.parts_of_day[low]}", None)
        if low in lex.seasons:
            return _Hit("SET", f"XXXX-{lex.seasons[low][0]}", None)
        if low in lex.months:
            return _Hit("SET", f"XXXX-{lex.months[low]:02d}", None)
        unit = unit_of(target)[0]
        if unit == "X":
            return None
        return _Hit("SET", _duration_value("1", unit), None)

    # lower case, or capitalized at a sentence start ("Days later"); "Weeks" mid-sentence is a name
    plural_units = ["years", "months", "weeks", "days", "hours", "minutes", "decades", "centuries"]
    plural_unit_re = (
        rf"(?:{_cs(_alt(plural_units))}|(?:(?<![\s\S])|(?<=\n)|(?<=[.!?\"“]\s))"
        rf"{_cs(_alt([u.title() for u in plural_units]))})"
    )

    # -- rules, most specific first ---------------------------------------------------------
    rules = [
        _Rule("abs:iso_date", rf"{lb}(?P<y>{year})-(?P<mo>[01]\d)-(?P<d>[0-3]\d)(?:T(?P<h>[012]\d):(?P<mi>[0-5]\d)(?::\d\d)?)?{rb}", iso_date),
        _Rule("abs:numeric_date", rf"{lb}(?P<a>[0-3]?\d)(?P<sep>[/.])(?P<b>[0-3]?\d)(?P=sep)(?P<y>{year}|\d\d){rb}", numeric_date),
        _Rule("abs:year_range", rf"{lb}{mod_pre}(?P<y1>{year})\s?(?P<sep>[-–—/])\s?(?P<y2>{year}|\d\d){rb}", year_range),
        _Rule(
            "abs:month_day_year",
            rf"{lb}(?:{wd_any},?\s+)?{mod_pre}(?:(?P<mo>{month_any})\s*(?P<d>{day})|(?:the\s+)?(?P<d2>{day})\s+(?:of\s+)?(?P<mo2>{month_any})),?\s+(?P<y>{year}){rb}",
            lambda m, c: month_day(_Swap(m), c),
        ),
        _Rule(
            "rel:month_day",
            rf"{lb}(?:{wd_any},?\s+)?{mod_pre}(?:(?P<mo>{month_any})\s*(?P<d>{day})|(?:the\s+)?(?P<d2>{day})\s+(?:of\s+)?(?P<mo2>{month_any})){rb}(?!\s*(?:,\s*)?\d)",
            lambda m, c: month_day(_Swap(m), c),
        ),
        _Rule("abs:month_year", rf"{lb}{mod_pre}(?P<mo>{month_any}),?\s+(?:of\s+)?(?P<y>{year}){rb}", month_year),
        _Rule("abs:season_year", rf"{lb}{mod_pre}(?:the\s+)?(?P<se>{seasons})\s+(?:of\s+)?(?P<y>{year}){rb}", season_year),
        _Rule(
            "rel:quarter",
            rf"{lb}(?:(?:the\s+)?(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:(?P<fiscal>fiscal)\s+)?(?:(?P<half>half)|quarter)(?:\s+of\s+(?:the\s+)?(?:fiscal\s+)?(?:(?P<y>{year})|(?P<yr>year)))?|Q(?P<qn>[1-4])(?:\s+(?P<y2>{year}))?){rb}",
            lambda m, c: quarter(_Swap(m), c),
        ),
        _Rule(
            "abs:decade",
            rf"{lb}(?:the\s+(?=(?:{mods})[\s-]))?{mod_pre}(?:the\s+)?(?:(?P<dec>1[5-9]\d0|20\d0)'?s|(?<=the\s)'?(?P<dec2>[1-9]0)'?s|'(?P<dec3>[1-9]0)s|(?<=the\s)(?P<decw>{_alt(list(lex.decades))})){rb}",
            decade,
        ),
        _Rule(
            "abs:century",
            rf"{lb}(?:the\s+(?=(?:{mods})[\s-]))?{mod_pre}(?:the\s+)?(?:(?P<c>1\d|2[01]|[1-9])(?:st|nd|rd|th)|(?P<cw>{_alt(list(lex.ordinals))}))[\s-]+century{rb}",
            century,
        ),
        _Rule(
            "rel:duration",
            rf"{lb}{mod_pre}(?:(?P<the>the)\s+(?:(?:{rel}|first|final)\s+)?)?(?P<n>{vague_q}|{num})(?:\s+|-)(?:(?:more|additional|straight|consecutive|long|full|whole)\s+)?(?P<unit>{unit_forms})(?![-\w])'?(?P<tail>\s+ago|\s+from\s+now|\s+hence)?{rb}",
            duration,
        ),
        _Rule(
            "rel:duration_conj",
            rf"{lb}{mod_pre}(?P<n>{num})(?=\s*(?:and|or|to|-|–)\s*(?:{num})(?:\s+|-)(?P<unit>{unit_forms})(?![-\w])){rb}",
            duration,
        ),
        _Rule(
            "rel:relative",
            rf"{lb}{mod_pre}(?:(?P<the>the)\s+)?(?P<rel>{rel}|this\s+past)\s+(?:fiscal\s+)?(?P<target>{units}|{seasons}|{month_full}|{wd_full}){rb}(?:\s+(?P<pod>{pods}){rb})?",
            relative,
        ),
        _Rule("rel:relative_mod", rf"{lb}(?P<mod>{mods})\s+(?P<rel>the\s+)?(?P<target>year|month|week|decade|century){rb}", lambda m, c: relative(_This(m), c)),
        _Rule(
            "rel:bare_units",
            rf"{lb}(?:(?:recent|the\s+past|the\s+last|the\s+coming|the\s+next|coming|past)\s+)?(?P<unit>{plural_unit_re}){rb}(?P<tail>\s+ago)?",
            bare_units,
        ),
        _Rule("rel:holiday", rf"{lb}(?P<hol>{_cs(_alt(lex.holiday_terms))})(?:,?\s+(?P<y>{year}))?{rb}", holiday),
        _Rule(
            "rel:clock",
            rf"{lb}(?:(?P<h>[01]?\d|2[0-4])(?::(?P<mi>[0-5]\d))?\s*(?P<ampm>[ap]\.\s?m\.|[ap]m(?![\w]))|(?P<h2>[01]?\d|2[0-4]):(?P<mi2>[0-5]\d)(?=\s*{tz})|(?P<noon>noon|midnight))(?:\s*{tz})?(?:\s+(?:on\s+)?(?P<wd>{wd_full}|{_alt(list(lex.deictic))}))?{rb}",
            lambda m, c: clock(_Swap(m), c),
        ),
        _Rule(
            "rel:weekday",
            rf"{lb}{mod_pre}(?P<wd>{wd_full})(?:\s+(?P<pod>{pods}))?{rb}",
            weekday,
        ),
        _Rule(
            "rel:deictic",
            rf"{lb}(?:(?P<w>{deictic_words})(?:\s+(?P<pod>{pods}))?|(?P<w2>this)\s+(?P<pod2>morning|afternoon|evening)){rb}",
            lambda m, c: deictic(_Swap(m), c),
        ),
        _Rule(
            "rel:set",
            rf"{lb}(?:(?:every|each|per)\s+(?:other\s+|single\s+)?(?P<target>{units}|{seasons}|{pods}|{wd_full}|{month_full})|(?P<sw>{_cs(_alt(list(lex.sets)))})){rb}",
            set_rule,
        ),
        _Rule(
            "rel:month",
            rf"{lb}{mod_pre}(?P<mo>{month_full}){rb}(?!\s+(?-i:[A-Z][a-z]))",
            month_alone,
        ),
        _Rule("abs:year", rf"{lb}{mod_pre}(?:(?:fiscal(?:\s+year)?|the\s+year)\s+)?(?P<y>{year}){rb}(?!\s?[-–]\s?\d)", year_alone),
        _Rule("rel:vague", rf"{lb}(?P<v>{_lower_or_title(list(lex.vague))}){rb}", vague),
    ]
    return rules


class _Swap:
    """Present alternative group names (``d2``, ``mo2``, ``y2``, ``h2``, ...) under their main name."""

    def __init__(self, m: re.Match[str]):
        self._m = m

    def __getitem__(self, name: str) -> str | None:
        v = _g(self._m, name)
        if v is None:
            for alt in (name + "2", name + "3"):
                v = _g(self._m, alt)
                if v is not None:
                    break
        return v

    def group(self, name: str) -> str | None:
        return self[name]


class _This(_Swap):
    """'the end of the year' reads as 'this year' with a modifier."""

    def __getitem__(self, name: str) -> str | None:
        if name == "rel":
            return "this"
        if name == "the":
            return None
        return super().__getitem__(name)


# First words a timex can start with besides lexicon terms and digits; the scan only tries the
# grammar at positions where one of these (or a lexicon term) begins.
_GRAMMAR_WORDS = ("the", "fiscal", "recent", "every", "each", "per", "noon", "midnight", "Q")
# TimeML quantity modifiers ("about three years") never reach across a determiner, unlike the
# point modifiers START/MID/END ("early this year"); such a word before "the" is a preposition.
_QUANTITY_MODS = frozenset({"APPROX", "LESS_THAN", "MORE_THAN", "EQUAL_OR_MORE", "EQUAL_OR_LESS", "EQUAL"})
_DETERMINER = re.compile(r"[\s-]+((?:the|this|that|these|those)\s)", re.IGNORECASE)
_ARTICLES = ("the", "a", "an")
_REF_GRANULARITIES = frozenset({"day", "week", "month", "quarter", "season", "year", "minute"})
# A capitalized word right before a bare year, not at a sentence start: a product/event name.
_PRODUCT_NAME = re.compile(r"(?<=[a-z0-9,;)] )(?-i:[A-Z][A-Za-z]*[a-z][A-Za-z]*) $")
_ANAPHORIC = frozenset({"following", "previous", "preceding", "prior"})
_AT = re.compile(r"\s*(?:,|-|–|—)?\s*(?:at\s+)?")
_NAMED = re.compile(r"\(\?P<(\w+)>")
_BACKREF = re.compile(r"\(\?P=(\w+)\)")


@dataclass(frozen=True)
class _Grammar:
    master: re.Pattern[str]
    rules: tuple[_Rule, ...]
    compiled: tuple[re.Pattern[str], ...]
    future: re.Pattern[str]
    past: re.Pattern[str]
    sentence_break: re.Pattern[str]


@lru_cache(maxsize=1)
def _grammar() -> _Grammar:
    lex = _lexicon()
    rules = _build_rules(lex)
    parts = []
    for i, r in enumerate(rules):
        # inner names become plain groups in the master; rules that need a backreference keep it by number
        inner = _BACKREF.sub(lambda m: "(?:[/.])", r.pattern)
        inner = _NAMED.sub("(?:", inner)
        parts.append(f"(?P<r{i}>{inner})")
    terms = [t.lower().split() for t in (*_GRAMMAR_WORDS, *lex.months, *lex.weekdays, *lex.numbers, *lex.modifiers,
             *lex.relative, *lex.vague, *lex.sets, *lex.holidays, *lex.units, *lex.seasons, *lex.ordinals,
             *lex.decades, *lex.deictic, *(u + "s" for u in lex.units), "centuries")]  # fmt: skip
    # articles start a timex only before another timex word ("the past", "a month"): gating them on
    # their next word keeps the grammar from being tried at every "the" and "a" of the text
    first = {t[0].split("-")[0] for t in terms} - set(_ARTICLES)
    second = first | {t[1] for t in terms if len(t) > 1 and t[0] in _ARTICLES}
    word_end = r"(?![^\W\d_])"
    gate = (
        rf"(?<![\w$£€#@/])(?<!\d[.,:-])(?<![^\W\d_]-)(?=\d|'\d|{_alt(sorted(first))}{word_end}"
        rf"|{_alt(_ARTICLES)}\s+(?:\d|'\d|{_alt(sorted(second))}{word_end}))"
    )
    master = re.compile(gate + "(?:" + "|".join(parts) + ")", _FLAGS)
    compiled = tuple(re.compile(r.pattern, _FLAGS) for r in rules)
    future = re.compile(r"(?<![\w'])" + _alt(lex.future_cues) + r"(?!\w)", _FLAGS)
    # a listed past form in any case, or a lower-case regular "-ed" word (capitalised ones are mostly names)
    past = re.compile(rf"(?<![\w'-])(?:(?i:{_alt(sorted(lex.past_cues['past']))})|[a-z]{{2,}}ed)(?![\w'-])")
    return _Grammar(master, tuple(rules), compiled, future, past, re.compile(r"[.!?;:\n]\s|\n"))


_PREV_WORD = re.compile(r"([A-Za-z']+)[^A-Za-z']*$")


def _is_past_cue(head: str, m: re.Match[str], lex: _Lexicon) -> bool:
    """Whether a past-looking word reads as a past-tense verb: not a listed exception, nor after "be" or an article."""
    word = m.group().lower()
    if word in lex.past_cues["not_past"]:
        return False
    prev = _PREV_WORD.search(head, 0, m.start())
    # "will be held", "to be named": a participle under a modal; "a wounded man": an adjective
    return prev is None or prev.group(1).lower() not in lex.past_cues["aux"] | lex.past_cues["determiner"]


def _future_checker(text: str, window: int) -> Callable[[int], bool]:
    g, lex = _grammar(), _lexicon()

    def is_future(pos: int) -> bool:
        lo = max(0, pos - window)
        head = text[lo:pos]
        breaks = [b.end() for b in g.sentence_break.finditer(head)]
        if breaks:
            head = head[breaks[-1] :]
        cues = list(g.future.finditer(head))
        if not cues:
            return False
        # the latest tense cue before the expression decides: "a planned vigil for a boy killed on Saturday"
        # looks back, "officials said the plant will reopen on Monday" looks ahead
        return not any(_is_past_cue(head, m, lex) for m in g.past.finditer(head, cues[-1].end()))

    return is_future


def is_future_context(text: str, pos: int, settings: ExtractSettings | None = None) -> bool:
    """True when a future/scheduling cue ("will", "is due to", "until") precedes pos in its sentence, after any past verb."""
    s = settings or ExtractSettings()
    return _future_checker(text, s.timex_tense_window_chars)(pos)


@lru_cache(maxsize=8)
def _scan(text: str) -> tuple[tuple[int, re.Match[str]], ...]:
    """Grammar hits of a text as (rule index, that rule's own match), independent of any anchor.

    Cached by content (bounded, in-process): a document without a date is tagged once without an anchor
    and again against the date inferred from it, and the scan is most of a tagging's cost.
    """
    g = _grammar()
    out = []
    for hit in g.master.finditer(text):
        i = int(hit.lastgroup[1:]) if hit.lastgroup else -1
        if i < 0:
            continue
        # the rule's own regex at the same position reads the same span (lookaheads may look past it)
        m = g.compiled[i].match(text, hit.start())
        if m is None or m.end() != hit.end():  # cannot happen for a well-formed grammar; skip rather than guess
            continue
        out.append((i, m))
    return tuple(out)


def tag_timexes(text: str, anchor: date | None, *, settings: ExtractSettings | None = None) -> tuple[Timex, ...]:
    """Find and normalize the temporal expressions of text, resolving relative ones against anchor."""
    s = settings or ExtractSettings()
    g = _grammar()
    future = _future_checker(text, s.timex_tense_window_chars)
    out: list[Timex] = []
    ref: date | None = None
    for i, m in _scan(text):
        rule = g.rules[i]
        try:
            res = rule.handler(m, _Ctx(text, m.start(), anchor, future, out[-1] if out else None, ref))
        except (ValueError, OverflowError):  # an anchor at the ends of the calendar shifted out of it
            res = None
        if res is None:
            continue
        a, b = m.start(), m.end()
        mod = res.mod
        if mod in _QUANTITY_MODS and "mod" in m.re.groupindex and m.start("mod") == a:
            rest = m.end("mod")
            after = _DETERMINER.match(text, rest)
            if after:  # "over the past two years": a preposition before a determiner, not a quantity modifier
                a, mod = after.start(1), None
        while b > a and text[b - 1] in " \t\n,":
            b -= 1
        out.append(
            Timex(
                start=a,
                end=b,
                text=text[a:b],
                type=res.type,
                value=res.value,
                granularity=res.granularity,
                time_start=res.iv[0] if res.iv else None,
                time_end=res.iv[1] if res.iv else None,
                anchored=res.anchored,
                rule=rule.name,
                mod=mod,
            )
        )
        if res.iv and res.type in ("DATE", "TIME") and res.granularity in _REF_GRANULARITIES:
            ref = res.iv[0]
    return tuple(out)


def te3_view(timexes: Sequence[Timex]) -> tuple[Timex, ...]:
    """TempEval-3 extent convention: a year range becomes one DATE per endpoint ("1957-58" -> 1957, 58)."""
    out: list[Timex] = []
    for t in timexes:
        if t.rule != "abs:year_range" or "/" not in t.value:
            out.append(t)
            continue
        m = re.match(r"(.*?\d{4})(\s?[-–—/]\s?)(\d+)$", t.text)
        y1, y2 = t.value.split("/")
        if m is None:
            out.append(t)
            continue
        first_end = t.start + len(m.group(1))
        second_start = first_end + len(m.group(2))
        for a, b, y in ((t.start, first_end, y1), (second_start, t.end, y2)):
            iv = _year_iv(int(y))
            out.append(
                Timex(a, b, t.text[a - t.start : b - t.start], "DATE", y, "year", iv[0] if iv else None, iv[1] if iv else None, True, t.rule, t.mod)
            )
    return tuple(out)
