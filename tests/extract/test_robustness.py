"""Extraction never raises, and every claim's evidence is a valid span inside its sentence."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.extract.run import extract_documents
from flows.settings import ExtractSettings
from tests.extract.helpers import plain_document

# words that make the extractors fire (names, speech verbs, quotes, predicates, dates, numbers),
# mixed with arbitrary characters so the patterns meet their edge cases
_WORDS = st.sampled_from(
    [
        "Smith", "Jane Doe", "John", "said", "told", "The Daily Planet", "married", "met", "born in", "raised in",
        "in", "2010", "July", "of", "\u201c", "\u201d", '"', "'", "\u2019s", "'s", ",", ".", "?", ":", " \u2014 ",
        "\n", "\n\n", "she", "he", "they both", "first kiss was at", "nine seasons", ", 33,", "(", ")", "as",
        "according to", "on", "Mr.", "U.S.", "In January", "was", "aired from 2005-13 on", "Acme Corp.",
    ]
)  # fmt: skip
_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_WORDS, st.text(alphabet=string.printable, max_size=4)), max_size=80).map(" ".join),
)


def _check(text: str) -> None:
    ex = extract_documents([plain_document("doc", text)], ExtractSettings())
    (e,) = ex
    n = len(text)
    for c in e.claims:
        assert 0 <= c.start <= c.end <= n, c
        assert 0 <= c.raw_start <= c.raw_end <= n, c
        assert text[c.start : c.end] in c.sentence, c
        assert c.sentence in text, c
    for m in e.mentions:
        assert text[m.start : m.end] == m.text
    for t in e.timexes:
        assert text[t.start : t.end] == t.text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_extraction_never_raises_and_spans_are_valid(text: str) -> None:
    _check(text)


def test_empty_and_whitespace_texts() -> None:
    for text in ("", " ", "\n\n", "\u201c", '"', "Smith said"):
        _check(text)


def test_a_predicate_row_with_an_unknown_slot_is_a_rule_error(monkeypatch) -> None:
    from flows.errors import RuleError
    from flows.extract import events

    real = events.load_table

    def with_bad_slot(relpath, *args, **kwargs):
        rows = real(relpath, *args, **kwargs)
        if relpath == "extract/predicates.tsv":
            rows = ({**rows[0], "slot": "patinet"}, *rows[1:])
        return rows

    monkeypatch.setattr(events, "load_table", with_bad_slot)
    events.lexicon.cache_clear()
    try:
        with pytest.raises(RuleError, match="slot 'patinet'"):
            events.lexicon()
    finally:
        events.lexicon.cache_clear()
