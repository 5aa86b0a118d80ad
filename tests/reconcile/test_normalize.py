"""Normalization helpers and the rule tables behind them."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.errors import RuleError
from flows.reconcile.normalize import describe_time, load_lexicon, name_key, parse_timex, place_key, quote_words
from flows.settings import RULES_DIR, ReconcileSettings

SETTINGS = ReconcileSettings()
LEX = load_lexicon(SETTINGS)


def test_spelling_and_paraphrase_variants_normalize_alike() -> None:
    assert quote_words("You’re my favourite Pam", LEX) == quote_words("you're my FAVORITE Pam!", LEX)
    assert quote_words("in love with one another", LEX) == quote_words("in love with each other", LEX)
    assert quote_words("I do not know", LEX) == quote_words("I don't know", LEX)


def test_predicate_families() -> None:
    assert LEX.predicate_rule("wed").family == "married"
    first = LEX.predicate_rule("first:kiss")
    assert (first.family, first.object_role, first.value_kind) == ("first:kiss", "value", "first")
    assert LEX.predicate_rule("count:seasons").value_kind == "number"
    assert LEX.predicate_rule("some_new_verb").object_role == "identifies"


def test_places_resolve_aliases_and_containment() -> None:
    assert LEX.place_chain(place_key("Pasadena", LEX))[-1] == "united states"
    assert place_key("U.S.", LEX) == "united states"


@pytest.mark.parametrize(
    ("value", "start", "end", "gran", "anchored"),
    [
        ("2016", date(2016, 1, 1), date(2017, 1, 1), "year", True),
        ("2010-07", date(2010, 7, 1), date(2010, 8, 1), "month", True),
        ("2010-12", date(2010, 12, 1), date(2011, 1, 1), "month", True),
        ("2021-12-03", date(2021, 12, 3), date(2021, 12, 4), "day", True),
        ("XXXX-01", None, None, "month", False),
    ],
)
def test_parse_timex(value: str, start: date | None, end: date | None, gran: str, anchored: bool) -> None:
    span = parse_timex(value)
    assert span is not None
    assert (span.start, span.end, span.granularity, span.anchored) == (start, end, gran, anchored)


def test_describe_time() -> None:
    assert describe_time(parse_timex("XXXX-01")) == "January (year unknown)"  # type: ignore[arg-type]
    assert describe_time(parse_timex("2010-07")) == "July 2010"  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_parsers_never_crash(text: str) -> None:
    parse_timex(text)
    name_key(text)
    quote_words(text, LEX)


def test_every_rule_row_names_its_provenance_and_an_example() -> None:
    for path in (RULES_DIR / "reconcile").glob("*.tsv"):
        rows = [ln.split("\t") for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
        header = rows[0]
        assert header[-2:] == ["provenance", "example"], path
        assert all(len(r) == len(header) and all(x.strip() for x in r) for r in rows[1:]), path


def test_malformed_rule_file_is_a_rule_error(tmp_path) -> None:
    bad = tmp_path / "bad.tsv"  # an absolute path in settings is used as is
    bad.write_text("variant\tcanonical\tprovenance\texample\ncolour\tcolor\t\t\n", encoding="utf-8")
    with pytest.raises(RuleError, match="needs a value"):
        load_lexicon(dataclasses.replace(SETTINGS, spelling_rules=str(bad)))
    bad.write_text("variant\tcanonical\n", encoding="utf-8")
    with pytest.raises(RuleError, match="header"):
        load_lexicon(dataclasses.replace(SETTINGS, spelling_rules=str(bad)))


def test_common_words_hands_back_the_wordfreq_tables_it_alone_loaded_and_keeps_others():
    import wordfreq

    from flows.reconcile import normalize

    tables = (wordfreq.top_n_list, wordfreq.get_frequency_dict, wordfreq.get_frequency_list)
    for cached in (normalize.common_words, *tables):
        cached.cache_clear()
    alone = normalize.common_words(5.0)
    assert {"the", "and", "of"} <= alone and "reconciliation" not in alone
    assert wordfreq.get_frequency_dict.cache_info().currsize == 0  # reconcile's process keeps no 27 MB table
    assert wordfreq.get_frequency_list.cache_info().currsize == 0

    normalize.common_words.cache_clear()
    wordfreq.get_frequency_dict("en")  # a stage in this process uses wordfreq: its tables stay
    assert normalize.common_words(5.0) == alone
    assert wordfreq.get_frequency_dict.cache_info().currsize == 1
