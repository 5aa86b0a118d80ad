"""Gold annotations of spun text and the scorer that compares a repair with them.

A gold item is a span of the spun text and what the original said there. An item is fixed
when the applied edits that touch it produce exactly the gold wording for the region they
cover; an applied edit that touches no gold item is a false edit.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from flows import records

CASES = Path(__file__).resolve().parent.parent / "cases" / "despin"
RAW = Path(__file__).resolve().parent.parent.parent / "raw"
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class GoldItem:
    start: int
    end: int
    garbled: str
    correct: str
    kind: str
    certainty: str


def _loose(s: str) -> str:
    """Regex for ``s`` in which any run of spaces matches any whitespace (the texts hold NBSPs)."""
    return r"\s+".join(re.escape(part) for part in s.split(" "))


def load_gold(path: Path, text: str) -> list[GoldItem]:
    """Resolve the bracketed anchors of a gold TSV against ``text``, left to right."""
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    items: list[GoldItem] = []
    pos = 0
    for row in csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
        anchor = row["anchor"]
        m = re.fullmatch(r"(.*?)\[(.*?)\](.*)", anchor, re.S)
        if m is None:
            raise ValueError(f"anchor without [brackets]: {anchor!r}")
        left, mid, _right = m.groups()
        found = re.compile(f"({_loose(left)})({_loose(mid)}){_loose(_right)}").search(text, pos)
        if found is None:
            raise ValueError(f"anchor not found after offset {pos}: {anchor!r}")
        start, end = found.span(2)
        items.append(GoldItem(start, end, text[start:end], row["correct"], row["kind"], row["certainty"]))
        pos = found.start()
    return items


def raw_document(path: Path) -> records.CleanDocument:
    """A CleanDocument whose clean_text is the file's text (identity map)."""
    text = path.read_text(encoding="utf-8")
    raw = records.RawDocument(
        doc_id=path.stem,
        source_path=path.name,
        content_sha256="",
        raw_text=text,
        media_type="text",
        encoding="utf-8",
        size_bytes=len(text.encode()),
    )
    return records.CleanDocument(raw, None, text, records.OffsetMap.identity(len(text)))


def _render(text: str, lo: int, hi: int, changes: list[tuple[int, int, str]]) -> str:
    out, cur = [], lo
    for s, e, rep in sorted(changes):
        out.append(text[cur:s])
        out.append(rep)
        cur = e
    out.append(text[cur:hi])
    # a typographic apostrophe and a straight one are the same repair
    return _WS.sub(" ", "".join(out)).strip().replace("’", "'")


@dataclass(frozen=True)
class Score:
    gold_words: int
    fixed_words: int
    false_edits: int
    false_words: int
    missed: tuple[GoldItem, ...]
    wrong: tuple[records.Edit, ...]

    @property
    def recall(self) -> float:
        return self.fixed_words / self.gold_words if self.gold_words else 1.0


def _words(s: str) -> int:
    return max(1, len(s.split()))


def score(text: str, gold: list[GoldItem], edits: tuple[records.Edit, ...], kinds: tuple[str, ...]) -> Score:
    """Recall of gold words fixed and false edits, for gold items of the given kinds."""
    applied = [e for e in edits if e.applied]
    fixed = total = 0
    missed = []
    for g in gold:
        if g.kind not in kinds:
            continue
        n = _words(g.garbled)
        total += n
        touching = [e for e in applied if e.clean_start < g.end and e.clean_end > g.start]
        if not touching:
            missed.append(g)
            continue
        lo = min([g.start] + [e.clean_start for e in touching])
        hi = max([g.end] + [e.clean_end for e in touching])
        golds = [x for x in gold if x.start < hi and x.end > lo]
        got = _render(text, lo, hi, [(e.clean_start, e.clean_end, e.replacement) for e in touching])
        want = _render(text, lo, hi, [(x.start, x.end, x.correct) for x in golds])
        if got == want:
            fixed += n
        else:
            missed.append(g)
    wrong = tuple(e for e in applied if not any(e.clean_start < g.end and e.clean_end > g.start for g in gold)
                  and not (e.clean_start == e.clean_end and any(g.start <= e.clean_start <= g.end for g in gold)))
    return Score(total, fixed, len(wrong), sum(_words(e.original) for e in wrong), tuple(missed), wrong)
