"""Document-date inference: metadata precedence, byline cues, datelines, bounded and unknown."""

from __future__ import annotations

from datetime import date

from flows.extract.docdate import infer_document_date
from flows.extract.timex import tag_timexes
from flows.settings import ExtractSettings

UPDATED = "Did they date?\n\nUpdated on December 3rd, 2021, by Lynn Gibbs: After binging The Office in 2019, fans ..."
SPUN = "Did they date?\n\nUpdated ~ above December 3rd, 2021, by Lynn Gibbs: After binging The Office in 2019, fans ..."


def test_updated_cue() -> None:
    d = infer_document_date(UPDATED, None)
    assert (d.published_at, d.basis) == (date(2021, 12, 3), "text:updated")


def test_updated_cue_survives_spun_words() -> None:
    d = infer_document_date(SPUN, None)
    assert (d.published_at, d.basis) == (date(2021, 12, 3), "text:updated")


def test_gap_limit_is_a_setting() -> None:
    d = infer_document_date(SPUN, None, settings=ExtractSettings(timex_docdate_max_gap_words=1))
    assert d.basis != "text:updated"


def test_metadata_wins_over_text() -> None:
    d = infer_document_date(UPDATED, date(2022, 1, 2))
    assert (d.published_at, d.basis, d.not_before) == (date(2022, 1, 2), "metadata", None)


def test_published_and_posted_cues() -> None:
    assert infer_document_date("Published: March 22, 2013\nText", None).basis == "text:published"
    assert infer_document_date("Some title\nPosted on 22 March 2013 at 10:04", None).published_at == date(2013, 3, 22)


def test_dateline_at_top() -> None:
    d = infer_document_date("WASHINGTON, March 22, 2013 - The FAA said on Friday ...", None)
    assert (d.published_at, d.basis) == (date(2013, 3, 22), "text:dateline")


def test_date_deep_in_body_is_not_a_dateline() -> None:
    body = "Words. " * 100 + "He was born on March 22, 1970."
    d = infer_document_date(body, None)
    assert d.published_at is None
    assert (d.basis, d.not_before) == ("bounded:latest_year_mentioned", date(1970, 1, 1))


def test_bounded_by_latest_year_ignoring_future_and_ranges() -> None:
    text = "The US version aired from 2005-13. They met in 2008. Sales will double by 2030."
    d = infer_document_date(text, None)
    assert (d.published_at, d.basis, d.not_before) == (None, "bounded:latest_year_mentioned", date(2013, 1, 1))


def test_unknown_without_years() -> None:
    d = infer_document_date("In January, her comments made headlines on Friday.", None)
    assert (d.published_at, d.basis, d.not_before) == (None, "unknown", None)


def test_uses_given_timexes_and_only_explicit_ones() -> None:
    text = "Updated on Friday. The show started last year."
    tx = tag_timexes(text, date(2013, 3, 22))  # relative ones resolve but are not evidence of a date
    assert infer_document_date(text, None, tx).basis == "unknown"


def test_sentence_near_top_is_not_a_dateline() -> None:
    text = "Page obituary\nBettie Page died on December 11, 2008 in Los Angeles after a heart attack, her agent said."
    d = infer_document_date(text, None)
    assert d.basis == "bounded:latest_year_mentioned" and d.not_before == date(2008, 1, 1)
