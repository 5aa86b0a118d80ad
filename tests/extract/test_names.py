"""Name trimming: what a capitalised run loses before it becomes a mention (articles, offices, headline words)."""

from __future__ import annotations

import pytest

from flows.extract.entities import find_candidates
from flows.extract.sentences import split_sentences
from flows.settings import ExtractSettings

CASES = [
    # an office and its department are not part of the name, with or without "the"
    ("Secretary of Labor Dana Whitcomb spoke on Monday.", ["Dana Whitcomb"], ["of Labor Dana Whitcomb"]),
    ("They met Secretary of the Treasury Oren Malik in May.", ["Oren Malik"], ["Treasury Oren Malik"]),
    ("They asked the Secretary of State on Friday.", [], ["of State", "State"]),
    # an office inside the run: what comes before it names the organisation or place, not the person
    ("Yesterday Northfield County Sheriff Ada Brennagh said no.", ["Ada Brennagh"], ["Northfield County Sheriff Ada Brennagh"]),
    ("Shares rose after Acme CEO Ivo Tarkanian spoke.", ["Ivo Tarkanian"], ["Acme CEO Ivo Tarkanian"]),
    # "of" never opens a name, whatever was trimmed before it
    ("Most of Ortega's friends came.", ["Ortega"], ["of Ortega"]),
    # the indefinite article belongs to the noun after the name
    ("He said so.\nA Northfield Mills spokesman said the plant would reopen.", ["Northfield Mills"], ["A Northfield Mills"]),
    ("He came. An Orlov family friend spoke.", ["Orlov"], ["An Orlov"]),
    # ... except in a work's title
    ("She wrote the book A Quiet Life in Maine.", ["A Quiet Life"], ["Quiet Life"]),
    # an exclaimed title-case headline marks no names; a spoken line does
    ("Veteran Actor Ilario Vantongeren Cast as the New Captain!\nHe starts in May.", [], ["Ilario Vantongeren Cast", "New Captain"]),
    ("We finally saw Ilario Vantongeren on stage!\nHe starts in May.", ["Ilario Vantongeren"], []),
]


@pytest.mark.parametrize(("text", "found", "absent"), CASES, ids=[c[0][:40] for c in CASES])
def test_name_trimming(text: str, found: list[str], absent: list[str]) -> None:
    names = [c.text for c in find_candidates("d", text, split_sentences(text), ExtractSettings())]
    for name in found:
        assert name in names, names
    for name in absent:
        assert name not in names, names


def _entities(text: str) -> list:
    """The entities extraction finds in one plain-text document."""
    from flows.extract.run import extract_documents
    from tests.extract.helpers import plain_document

    return extract_documents([plain_document("d", text)], ExtractSettings())[0].entities


def test_a_person_is_named_without_article_and_a_name_under_one_that_speaks_is_an_organisation() -> None:
    text = (
        "The Rev. Ada Morrow, who runs a youth ministry, spoke on Sunday.\n"
        "Morrow, 52, said the shelter would open in May.\n"
        "The Northfield Rovers said they would appeal the fine.\n"
    )
    entities = _entities(text)
    by_name = {e.name: e for e in entities}
    assert "Rev. Ada Morrow" in by_name and by_name["Rev. Ada Morrow"].type == "PERSON", entities
    assert "The Rev. Ada Morrow" in by_name["Rev. Ada Morrow"].aliases
    assert by_name["The Northfield Rovers"].type == "ORG", entities


def test_a_title_holding_a_wh_word_is_a_work_and_a_speaking_union_of_nations_an_organisation() -> None:
    """Typed a person, "Captain Who" or "Ostrian Nations" could be what a later he or she refers to."""
    text = (
        "Bram Kessel thanked his fans on Sunday.\n"
        "Kessel left as Captain Who ended its run in May.\n"
        "The Ostrian Nations said the vote would go ahead.\n"
    )
    entities = _entities(text)
    types = {e.name: e.type for e in entities}
    assert types.get("Captain Who") == "WORK", entities
    assert types.get("The Ostrian Nations", types.get("Ostrian Nations")) == "ORG", entities
    assert types.get("Bram Kessel") == "PERSON", entities


def test_a_leading_article_does_not_make_a_name_fuller() -> None:
    text = "Ada Quill was born in Halden.\nThe Halden police said little.\nShe left Halden in 1947.\n"
    entities = _entities(text)
    names = {e.name for e in entities}
    assert "Halden" in names and "The Halden" not in names, entities
