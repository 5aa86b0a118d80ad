"""Extraction never raises, and every claim's evidence is a valid span inside its sentence."""

from __future__ import annotations

import string

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
