"""Temporal tagger: golden cases (tests/cases/timex/golden.json), invariants and TE3 view."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.extract.timex import is_future_context, tag_timexes, te3_view

CASES = json.loads((Path(__file__).parent.parent / "cases" / "timex" / "golden.json").read_text(encoding="utf-8"))


def _anchor(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw else None


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden(case: dict) -> None:
    found = tag_timexes(case["text"], _anchor(case["anchor"]))
    by_text = {t.text: t for t in found}
    for exp in case["with"]:
        assert exp["text"] in by_text, f"{exp['text']!r} not tagged; got {[t.text for t in found]}"
        t = by_text[exp["text"]]
        for key, want in exp.items():
            got = getattr(t, key)
            if key in ("time_start", "time_end"):
                got = got.isoformat() if got else None
            assert got == want, f"{exp['text']!r}.{key}: {got!r} != {want!r}"
    for text in case.get("without", []):
        assert text not in by_text, f"{text!r} must not be a timex"
    if not case["with"]:
        assert not [t for t in found if t.text in case.get("without", [])]


def test_no_anchor_never_guesses_a_year() -> None:
    text = "In January she left; on Friday, Dec. 3, last summer and two years ago he came back this week."
    for t in tag_timexes(text, None):
        assert not t.anchored and t.time_start is None and t.value.startswith("X"), t


def test_relative_values_follow_the_anchor() -> None:
    a = tag_timexes("Sales rose last year.", date(2013, 3, 18))[0]
    b = tag_timexes("Sales rose last year.", date(2021, 1, 5))[0]
    assert (a.value, b.value) == ("2012", "2020")


def test_future_cue_changes_direction() -> None:
    text = "The law will take effect in June."
    assert is_future_context(text, text.index("June"))
    assert tag_timexes(text, date(2013, 3, 22))[0].value == "2013-06"
    assert tag_timexes("The law took effect in June.", date(2013, 3, 22))[0].value == "2012-06"


# anchor Wednesday 2013-03-13: the Saturday before is 03-09, the one after 03-16
_WEEKDAY_TENSE = [
    ("A planned rally for a man killed by guards on Saturday drew crowds.", "Saturday", "2013-03-09"),
    ("The club will sign a striker, the coach said on Saturday.", "Saturday", "2013-03-09"),
    ("The fair, which was expected to draw crowds, closed early on Saturday.", "Saturday", "2013-03-09"),
    ("Officials said the bridge will reopen on Saturday.", "Saturday", "2013-03-16"),
    ("The verdict will be announced on Saturday.", "Saturday", "2013-03-16"),
    ("The final is scheduled to take place on Saturday.", "Saturday", "2013-03-16"),
    ("The board will meet with a delayed agenda on Saturday.", "Saturday", "2013-03-16"),
    ("The mayor opened the bridge on Saturday.", "Saturday", "2013-03-09"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "span", "value"), _WEEKDAY_TENSE, ids=[c[0][:40] for c in _WEEKDAY_TENSE])
def test_bare_weekday_follows_the_latest_tense_cue(text: str, span: str, value: str) -> None:
    by_text = {t.text: t.value for t in tag_timexes(text, date(2013, 3, 13))}
    assert by_text.get(span) == value, by_text


def test_past_verb_after_future_cue_turns_month_back() -> None:
    text = "The singer will retire, her agent said in June."
    assert not is_future_context(text, text.index("June"))
    assert tag_timexes(text, date(2013, 3, 22))[0].value == "2012-06"


def test_te3_view_splits_ranges_into_endpoints() -> None:
    text = "the expedition of 1957-58 and the pandemic of 2009-2010"
    split = te3_view(tag_timexes(text, None))
    assert [(t.text, t.value) for t in split] == [("1957", "1957"), ("58", "1958"), ("2009", "2009"), ("2010", "2010")]
    assert all(text[t.start : t.end] == t.text for t in split)


def test_sorted_and_non_overlapping() -> None:
    text = "On Friday, March 22, 2013, the past two years ended; in 2009-2010 and by early 2011, now."
    found = tag_timexes(text, date(2013, 3, 22))
    assert [t.start for t in found] == sorted(t.start for t in found)
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))
    assert found[0].text == "Friday, March 22, 2013"


_WORDS = [
    "in", "on", "the", "last", "next", "this", "past", "early", "late", "about", "over", "ago", "from", "now",
    "January", "May", "March", "Dec.", "Friday", "Sunday", "night", "summer", "year", "years", "weeks", "a",
    "two", "twenty-four", "several", "2010", "1990s", "'90s", "2005-13", "3rd", "12", "31", "15:00", "GMT",
    "p.m.", "every", "morning", "century", "20th", "quarter", "first", "Q3", "Christmas", "-", ",", ".", "\n",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.text(max_size=80), st.lists(st.sampled_from(_WORDS), max_size=14).map(" ".join)),
    st.one_of(st.none(), st.dates(min_value=date(1, 1, 1), max_value=date(9998, 12, 31))),
)
def test_never_crashes_and_spans_are_valid(text: str, anchor: date | None) -> None:
    for t in tag_timexes(text, anchor):
        assert text[t.start : t.end] == t.text and t.text
        assert t.type in ("DATE", "TIME", "DURATION", "SET")
        if t.time_start is not None:
            assert t.time_end is not None and t.time_start < t.time_end


def test_every_lexicon_entry_has_source_and_example() -> None:
    from flows.extract.timex import TIMEX_RULES_DIR, load_rules_tsv

    files = sorted(p.name for p in TIMEX_RULES_DIR.glob("*.tsv"))
    assert "months.tsv" in files and "docdate_cues.tsv" in files
    for name in files:
        key = "cue_id" if name == "docdate_cues.tsv" else "term"
        assert load_rules_tsv(name, (key,)), name
