"""Load hand-written claim cases (tests/cases/reconcile/*.json) into records.Claim."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flows.reconcile.normalize import parse_timex
from flows.records import Claim

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "reconcile"


def claim_id(doc_id: str, kind: str, predicate: str, start: int, end: int) -> str:
    raw = "\x1f".join((doc_id, kind, predicate, str(start), str(end)))
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


def _sentence(text: str, start: int, end: int) -> str:
    a = max(text.rfind(". ", 0, start) + 2, text.rfind("\n", 0, start) + 1, 0)
    stops = [i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0]
    b = min(stops) + 1 if stops else len(text)
    return text[a:b].strip()


def load_case(name: str) -> tuple[dict, list[Claim], dict[str, str]]:
    """The case dict, its claims, and each doc's text."""
    case = json.loads((CASES / name).read_text(encoding="utf-8"))
    texts = {
        d: meta["text"] if "text" in meta else (ROOT / meta["path"]).read_text(encoding="utf-8")
        for d, meta in case["docs"].items()
    }
    claims = []
    for row in case["claims"]:
        doc = row["doc"]
        text = texts[doc]
        start = text.find(row["evidence"])
        assert start >= 0, f"evidence not found in {doc}: {row['evidence']!r}"
        end = start + len(row["evidence"])
        span = parse_timex(row.get("time_value"))
        anchored = row.get("time_anchored")
        quote = row.get("quote_text", row["evidence"] if row["kind"] == "quote" and row["predicate"] != "remarked" else None)
        claims.append(
            Claim(
                # the subject joins the id so one span stating two claims ("both actors married") gives two ids
                claim_id=claim_id(doc, row["kind"], row["predicate"] + (row.get("subject") or ""), start, end),
                doc_id=doc,
                kind=row["kind"],
                subject=row.get("subject"),
                predicate=row["predicate"],
                object=row.get("object"),
                sentence=_sentence(text, start, end),
                start=start,
                end=end,
                raw_start=start,
                raw_end=end,
                extractor=row.get("extractor", "handwritten"),
                confidence=row.get("confidence", 0.9),
                quote_text=quote,
                venue=row.get("venue"),
                outlet=row.get("outlet"),
                place=row.get("place"),
                time_text=row.get("time_text"),
                time_value=row.get("time_value"),
                time_start=span.start if span and anchored is not False else None,
                time_end=span.end if span and anchored is not False else None,
                granularity=row.get("granularity"),
                time_anchored=anchored,
                modality=row.get("modality", "asserted"),
                polarity=row.get("polarity", True),
                number=row.get("number"),
            )
        )
    return case, claims, texts
