"""Document-date inference: when was this article published, and how do we know?

Needs: the document text (normalized_text), the publication date from metadata if a user gave
one, and optionally the timexes already tagged in that text (``tag_timexes``).
Adds: a ``records.DocumentDate``:
- ``basis="metadata"`` when metadata gives the date (it always wins);
- ``basis="text:<cue>"`` when a byline cue ("Updated on December 3rd, 2021", "Published ...",
  "Posted ...") stands before a full explicit date; up to ``timex_docdate_max_gap_words`` words
  may sit between cue and date, so spun copy ("Updated ~ above December 3rd, 2021") still reads;
- ``basis="text:dateline"`` for a full date at the top of the text with at most a few words
  before it on its line and either few after it or a dash ("WASHINGTON, March 22, 2013 -");
- ``basis="bounded:latest_year_mentioned"``: no publication date, but the article cannot be
  older than the latest explicit year it mentions outside future contexts ("will ... by 2030"):
  ``not_before`` is January 1 of that year;
- ``basis="unknown"`` otherwise.
Cue patterns are data: ``flows/rules/timex/docdate_cues.tsv``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

from flows.errors import RuleError
from flows.extract.timex import is_future_context, load_rules_tsv, tag_timexes
from flows.records import DocumentDate, Timex
from flows.settings import ExtractSettings

_WORD = re.compile(r"\S+")
_DASH = re.compile(r"\s*(?:\(\w+\)\s*)?(?:-|--|–|—|:)")


@lru_cache(maxsize=1)
def _cues() -> re.Pattern[str]:
    rows = load_rules_tsv("docdate_cues.tsv", ("cue_id", "pattern"))
    parts = []
    for row in rows:
        try:
            re.compile(row["pattern"])
        except re.error as exc:
            raise RuleError(f"docdate_cues.tsv: cue {row['cue_id']!r} has an invalid pattern: {exc}") from exc
        parts.append(f"(?P<{row['cue_id']}>{row['pattern']})")
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _explicit_day(t: Timex) -> bool:
    return t.rule.startswith("abs:") and t.granularity == "day" and t.time_start is not None


def infer_document_date(
    text: str,
    meta_date: date | None,
    timexes: Sequence[Timex] | None = None,
    *,
    settings: ExtractSettings | None = None,
) -> DocumentDate:
    """The document's publication date: metadata, else a byline cue or dateline, else bounded by years mentioned."""
    if meta_date is not None:
        return DocumentDate(published_at=meta_date, basis="metadata")
    s = settings or ExtractSettings()
    tx = sorted(timexes if timexes is not None else tag_timexes(text, None, settings=s), key=lambda t: t.start)
    days = [t for t in tx if _explicit_day(t)]

    for cue in _cues().finditer(text):
        for t in days:
            if t.start < cue.end():
                continue
            gap = text[cue.end() : t.start]
            if "\n" in gap.strip(" \t") or len(_WORD.findall(gap)) > s.timex_docdate_max_gap_words:
                break
            return DocumentDate(published_at=t.time_start, basis=f"text:{cue.lastgroup}")

    for t in days:
        if t.start > s.timex_docdate_head_chars:
            break
        line_start = text.rfind("\n", 0, t.start) + 1
        line_end = text.find("\n", t.end)
        after = text[t.end : line_end if line_end >= 0 else len(text)]
        # a dateline stands on a short line of its own or ends in a dash ("WASHINGTON, March 22, 2013 - ...");
        # a date inside a sentence near the top ("He died on March 3, 2009 in ...") is not one
        short_line = len(_WORD.findall(after)) <= s.timex_docdate_head_max_words_after or _DASH.match(after)
        if len(_WORD.findall(text[line_start : t.start])) <= s.timex_docdate_head_max_words_before and short_line:
            return DocumentDate(published_at=t.time_start, basis="text:dateline")

    # the last year an explicit date reaches ("2005-13" reaches 2013); decades and centuries bound nothing useful
    years = [
        (t.time_end - timedelta(days=1)).year
        for t in tx
        if t.rule.startswith("abs:")
        and t.time_end is not None
        and t.granularity not in ("decade", "century")
        and not is_future_context(text, t.start, s)
    ]
    if years:
        return DocumentDate(published_at=None, basis="bounded:latest_year_mentioned", not_before=date(max(years), 1, 1))
    return DocumentDate(published_at=None, basis="unknown")
