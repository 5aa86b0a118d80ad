"""Score the temporal tagger on TempEval-3 platinum (Task A: timex extent, value and type).

Usage: .venv/bin/python scripts/score_timex.py [--path FILE] [--compare-dateparser] [--errors]

Figures (TE3 evaluation, UzZaman et al. 2013):
- strict extent P/R/F1: a system timex counts only if its span equals a gold span exactly;
- relaxed extent P/R/F1: a system timex counts if it overlaps a gold timex (each gold matched once);
- value accuracy: share of relaxed matches whose normalized value equals the gold value;
  value F1 = relaxed F1 x value accuracy (equivalently P and R counted over matches with the right value);
- type F1 likewise with the TIMEX3 type;
- throughput: characters tagged per second, tagging time only, best of 3 runs over all documents.
Each document is tagged with its ``dct`` as anchor. Ranges are scored in the TE3 convention
(``te3_view``: one DATE per endpoint), since TE3 annotates "2009-2010" as two timexes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flows.extract.timex import tag_timexes, te3_view  # noqa: E402

DEFAULT_PATH = REPO.parent / "shared" / "bench" / "timex" / "te3_platinum.jsonl"
Span = tuple[int, int, str, str]  # start, end, type, value


def load(path: Path) -> list[dict]:
    """Read the TE3 JSONL file, one document a line."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def prf(tp_p: int, n_sys: int, tp_r: int, n_gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 in percent."""
    p = 100.0 * tp_p / n_sys if n_sys else 0.0
    r = 100.0 * tp_r / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(docs: list[dict], system: list[list[Span]]) -> dict[str, float]:
    """TE3 Task A figures for the system spans of each document against gold."""
    n_sys = n_gold = strict = rel_sys = rel_gold = val_ok = type_ok = matched = 0
    for doc, spans in zip(docs, system, strict=True):
        gold = [(g["start"], g["end"], g["type"], g["value"]) for g in doc["timexes"]]
        n_sys += len(spans)
        n_gold += len(gold)
        gold_spans = {(g[0], g[1]) for g in gold}
        strict += sum((s[0], s[1]) in gold_spans for s in spans)
        used: set[int] = set()
        for s in spans:
            hit = next((i for i, g in enumerate(gold) if i not in used and s[0] < g[1] and g[0] < s[1]), None)
            if hit is None:
                hit_any = any(s[0] < g[1] and g[0] < s[1] for g in gold)
                rel_sys += hit_any  # overlaps an already-matched gold: still not a false extent
                continue
            used.add(hit)
            rel_sys += 1
            matched += 1
            val_ok += s[3] == gold[hit][3]
            type_ok += s[2] == gold[hit][2]
        rel_gold += len(used)
    sp, sr, sf = prf(strict, n_sys, strict, n_gold)
    rp, rr, rf = prf(rel_sys, n_sys, rel_gold, n_gold)
    vacc = 100.0 * val_ok / matched if matched else 0.0
    tacc = 100.0 * type_ok / matched if matched else 0.0
    return {
        "n_gold": n_gold, "n_sys": n_sys,
        "strict_p": sp, "strict_r": sr, "strict_f1": sf,
        "relaxed_p": rp, "relaxed_r": rr, "relaxed_f1": rf,
        "value_acc": vacc, "value_f1": rf * vacc / 100.0,
        "type_acc": tacc, "type_f1": rf * tacc / 100.0,
    }  # fmt: skip


def run_tagger(docs: list[dict]) -> list[list[Span]]:
    """Our tagger's spans for each document (TE3 range convention)."""
    out = []
    for d in docs:
        tx = te3_view(tag_timexes(d["text"], date.fromisoformat(d["dct"])))
        out.append([(t.start, t.end, t.type, t.value) for t in tx])
    return out


def run_dateparser(docs: list[dict]) -> list[list[Span]]:
    """dateparser.search.search_dates spans (first occurrence of each found string, in order)."""
    from datetime import datetime

    from dateparser.search import search_dates

    out = []
    for d in docs:
        anchor = datetime.fromisoformat(d["dct"])
        found = search_dates(d["text"], languages=["en"], settings={"RELATIVE_BASE": anchor}) or []
        spans, pos = [], 0
        for s, dt in found:
            i = d["text"].find(s, pos)
            if i < 0:
                continue
            spans.append((i, i + len(s), "DATE", dt.date().isoformat()))
            pos = i + len(s)
        out.append(spans)
    return out


def throughput(fn, docs: list[dict], repeats: int = 3) -> float:
    """Best-of-N characters per second (thousands) of fn over all documents."""
    chars = sum(len(d["text"]) for d in docs)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(docs)
        best = min(best, time.perf_counter() - t0)
    return chars / best / 1000.0


def show_errors(docs: list[dict], system: list[list[Span]]) -> None:
    """Print missed, spurious and mis-valued timexes with a little context."""
    for doc, spans in zip(docs, system, strict=True):
        text = doc["text"]
        gold = [(g["start"], g["end"], g["type"], g["value"]) for g in doc["timexes"]]
        for g in gold:
            m = [s for s in spans if s[0] < g[1] and g[0] < s[1]]
            if not m:
                print(f"MISS  {doc['doc_id']}: {text[g[0]:g[1]]!r} {g[2]} {g[3]}  ...{text[max(0, g[0] - 30):g[1] + 15]!r}")
            elif (m[0][0], m[0][1]) != (g[0], g[1]) or m[0][3] != g[3] or m[0][2] != g[2]:
                print(f"DIFF  {doc['doc_id']}: gold {text[g[0]:g[1]]!r} {g[2]} {g[3]} | sys {text[m[0][0]:m[0][1]]!r} {m[0][2]} {m[0][3]}")
        for s in spans:
            if not any(s[0] < g[1] and g[0] < s[1] for g in gold):
                print(f"SPUR  {doc['doc_id']}: {text[s[0]:s[1]]!r} {s[2]} {s[3]}  ...{text[max(0, s[0] - 30):s[1] + 15]!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", type=Path, default=DEFAULT_PATH, help="TE3 platinum JSONL (default: %(default)s)")
    ap.add_argument("--compare-dateparser", action="store_true", help="also score dateparser.search.search_dates")
    ap.add_argument("--errors", action="store_true", help="list misses, spurious hits and wrong values")
    args = ap.parse_args()
    if not args.path.is_file():
        print(f"error: TE3 file {args.path} not found; pass --path to the te3_platinum.jsonl file", file=sys.stderr)
        return 2
    docs = load(args.path)
    chars = sum(len(d["text"]) for d in docs)
    system = run_tagger(docs)
    if args.errors:
        show_errors(docs, system)
    rows = [("timex", score(docs, system), throughput(run_tagger, docs))]
    if args.compare_dateparser:
        rows.append(("dateparser", score(docs, run_dateparser(docs)), throughput(run_dateparser, docs)))
    print(f"TE3-platinum: {len(docs)} docs, {chars} chars, {rows[0][1]['n_gold']} gold timexes")
    print(f"{'system':<11}{'n_sys':>6}  {'strict P/R/F1':>20}  {'relaxed P/R/F1':>20}  {'val acc':>7} {'val F1':>6}  {'type F1':>7}  {'kchar/s':>8}")
    for name, s, kcps in rows:
        print(
            f"{name:<11}{s['n_sys']:>6}  {s['strict_p']:6.2f} {s['strict_r']:6.2f} {s['strict_f1']:6.2f}  "
            f"{s['relaxed_p']:6.2f} {s['relaxed_r']:6.2f} {s['relaxed_f1']:6.2f}  {s['value_acc']:7.2f} {s['value_f1']:6.2f}  "
            f"{s['type_f1']:7.2f}  {kcps:8.0f}"
        )
    if len(rows) == 2:
        print(f"speed-up over dateparser: {rows[0][2] / rows[1][2]:.1f}x (dateparser values/types are not TimeML; ignore its value/type F1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
