"""Clean: offsets always lead back into the raw text, removals are kept, and cleaning is idempotent.

Properties (hypothesis) over text built from real boilerplate examples (the rule table's
``example`` column), article-like lines and arbitrary characters; HTML built from random blocks
wrapped in script, style, comment and nav chrome.
"""

from __future__ import annotations

import html

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.clean import PARAGRAPH_SEP, clean_document
from flows.records import RawDocument
from flows.rules import load_table
from flows.settings import CleanSettings

CFG = CleanSettings()
EXAMPLES = [
    r["example"]
    for r in load_table(CFG.boilerplate_rules, ("rule_id", "scope", "pattern", "reason", "source", "example"))
    if r["scope"] != "html_drop" and r["example"]
]
ARTICLE_LINES = [
    "The bridge over the river closed on Tuesday after flood water rose over the road.",
    '"It is not safe," the mayor said.',
    "Officials said it would reopen next week.",
    "By Jane Doe",
]
PLAIN = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
LINE = st.one_of(st.sampled_from(EXAMPLES), st.sampled_from(ARTICLE_LINES), PLAIN)
SPACING = st.sampled_from(["\n", "\n\n", "\n  \n", "\r\n", "  \n\t"])


@st.composite
def articles(draw) -> str:
    lines = draw(st.lists(LINE, max_size=12))
    return "".join(line + draw(SPACING) for line in lines)


def _doc(text: str, media: str = "text") -> RawDocument:
    return RawDocument("d.txt", "d.txt", "0" * 64, text, media, "utf-8", len(text.encode()))


def _check_offsets(raw: str, cleaned) -> None:
    clean = cleaned.clean_text
    last_end = 0
    for d0, d1, s0, s1 in cleaned.clean_to_raw.segments:
        assert 0 <= d0 <= d1 <= len(clean) and d0 >= last_end, (d0, d1)
        assert 0 <= s0 <= s1 <= len(raw), ("raw span out of range", s0, s1, len(raw))
        if d1 - d0 == s1 - s0:
            assert clean[d0:d1] == raw[s0:s1], "an exact segment maps to the same characters"
        last_end = d1
    for a in range(0, len(clean) + 1, max(1, len(clean) // 25)):
        for b in (a, min(len(clean), a + 7), len(clean)):
            x, y = cleaned.clean_to_raw.to_source(a, b)
            assert 0 <= x <= y <= len(raw)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(articles())
def test_text_offsets_point_into_the_raw_text_and_removals_are_kept(raw):
    cleaned = clean_document(_doc(raw), CFG)
    _check_offsets(raw, cleaned)
    for hit in cleaned.removed:
        assert raw[hit.raw_start : hit.raw_end] == hit.text and hit.rule_id and hit.reason
    # nothing is lost: every non-blank line is either kept in clean_text or recorded as removed
    removed = {h.text for h in cleaned.removed}
    for line in raw.split("\n"):  # the lines clean_document sees (str.splitlines also splits at \x1c-\x1e)
        if line.strip():
            assert line.strip() in cleaned.clean_text or line.strip() in removed, line


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(articles())
def test_cleaning_clean_text_again_changes_nothing(raw):
    once = clean_document(_doc(raw), CFG).clean_text
    twice = clean_document(_doc(once), CFG)
    assert twice.clean_text == once
    assert not twice.removed


BLOCK = st.one_of(st.sampled_from(ARTICLE_LINES), st.sampled_from(EXAMPLES), st.text(max_size=40))
CHROME = [
    "<script>var t = 'SCRIPT';</script>",
    "<style>.x { color: red }</style>",
    "<!-- a comment the CMS left -->",
    "<nav><a href='/'>Home</a></nav>",
    "<footer>Copyright</footer>",
]


@st.composite
def pages(draw) -> tuple[str, list[str]]:
    blocks = draw(st.lists(BLOCK, min_size=1, max_size=8))
    parts = ["<html><head><title>T</title>", draw(st.sampled_from(CHROME)), "</head><body>"]
    for b in blocks:
        parts.append(draw(st.sampled_from(["", *CHROME])))
        tag = draw(st.sampled_from(["p", "h2", "li", "blockquote"]))
        close = draw(st.booleans())  # malformed pages leave tags open
        parts.append(f"<{tag}>{html.escape(b)}" + (f"</{tag}>" if close else "\n"))
    if draw(st.booleans()):
        parts.append("</body></html>")
    return "".join(parts), blocks


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_html_offsets_stay_inside_the_markup_and_chrome_never_reaches_clean_text(page):
    raw, _blocks = page
    cleaned = clean_document(_doc(raw, "html"), CFG)
    _check_offsets(raw, cleaned)
    for marker in ("SCRIPT", "color: red", "a comment the CMS left", "Home", "Copyright"):
        assert marker not in cleaned.clean_text, marker
    assert PARAGRAPH_SEP * 2 not in cleaned.clean_text
    again = clean_document(_doc(cleaned.clean_text), CFG).clean_text
    assert again == cleaned.clean_text, "the text of a cleaned page is already clean"
