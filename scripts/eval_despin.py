"""Measure despinning: hand gold of seed 001, spun clean seeds, spun ECB+ articles, throughput.

Run: .venv/bin/python scripts/eval_despin.py [--ecb N]
Prints recall of garbled words restored, false edits (edits on words the spinner did not touch),
spin scores of clean texts, and KB/s of CPU time. --misses lists the seed-001 gold items missed and
every false edit (seed 001 and spun ECB+). Needs raw/ seeds and /work/shared/bench/ecbplus/docs.jsonl
(ECB+ part is skipped when absent).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows import records  # noqa: E402
from flows.despin.repair import repair_documents  # noqa: E402
from flows.settings import load_settings  # noqa: E402
from tests.despin.gold import CASES, RAW, load_gold, raw_document, score  # noqa: E402
from tests.despin.spinner import spin  # noqa: E402

ECB = Path("/work/shared/bench/ecbplus/docs.jsonl")
SEEDS = {"000": "000_8886242603610b56", "001": "001_dda66812b07d539f", "003": "003_0a0e6922e87f18a4"}
WORDS = ("word", "case")
ALL = ("word", "case", "punct")


def _doc(doc_id: str, text: str) -> records.CleanDocument:
    raw = records.RawDocument(doc_id, doc_id, "", text, "text", "utf-8", len(text.encode()))
    return records.CleanDocument(raw, None, text, records.OffsetMap.identity(len(text)))


class Totals:
    def __init__(self) -> None:
        self.gold = self.fixed = self.false = self.nbytes = 0
        self.seconds = 0.0

    def add(self, s, nbytes: int, seconds: float) -> None:
        self.gold += s.gold_words
        self.fixed += s.fixed_words
        self.false += s.false_words
        self.nbytes += nbytes
        self.seconds += seconds

    def line(self, label: str) -> str:
        rec = self.fixed / self.gold if self.gold else 1.0
        kbs = self.nbytes / 1024 / self.seconds if self.seconds else float("inf")
        return f"{label:<44} recall {rec:6.1%} ({self.fixed}/{self.gold})  false-edit words {self.false:3d}  {kbs:7.1f} KB/s CPU"


def _timed(docs, refs, settings):
    # CPU time, not wall time: the machine is shared and wall time swings with everyone's load
    t0 = time.process_time()
    out = repair_documents(docs, refs, settings)
    return out, time.process_time() - t0


def _show_misses(text: str, s) -> None:
    for g in s.missed:
        print(f"  MISS {g.kind:5} {g.certainty:6} {text[max(0, g.start - 30) : g.start]!r} [{g.garbled}] {text[g.end : g.end + 25]!r} -> {g.correct!r}")
    for e in s.wrong:
        print(f"  FALSE {e.rule} {text[max(0, e.clean_start - 30) : e.clean_start]!r} [{e.original}] -> {e.replacement!r}")


def seed_gold(settings, misses: bool = False) -> None:
    doc = raw_document(RAW / f"{SEEDS['001']}.txt")
    gold = load_gold(CASES / "gold_001.tsv", doc.clean_text)
    clean = [raw_document(RAW / f"{SEEDS[k]}.txt") for k in ("000", "003")]
    repair_documents([doc, *clean], [], settings)  # warm-up: rule tables and wordfreq load once
    for label, docs, refs in (
        ("seed 001 hand gold, with 000+003 in batch", [doc, *clean], []),
        ("seed 001 hand gold, no references", [doc], []),
    ):
        out, secs = _timed(docs, refs, settings)
        r = out[0]
        for kinds, name in ((WORDS, "words"), (ALL, "words+quotes")):
            s = score(doc.clean_text, gold, r.edits, kinds)
            t = Totals()
            t.add(s, len(doc.clean_text.encode()), secs)
            print(t.line(f"{label} [{name}]"), f" spin {r.spin_score:.2f}")
            if misses and name == "words+quotes":
                _show_misses(doc.clean_text, s)
        sure = [g for g in gold if g.certainty == "sure"]
        s = score(doc.clean_text, sure, r.edits, WORDS)
        print(f"{'   only items marked sure':<44} recall {s.recall:6.1%} ({s.fixed_words}/{s.gold_words})")
    for d, r in zip(clean, repair_documents(clean, [], settings), strict=True):
        applied = sum(e.applied for e in r.edits)
        print(f"clean seed {d.doc.doc_id[:3]}: spin {r.spin_score:.2f} spun={r.is_spun} edits applied {applied}")


def spun_seeds(settings, runs: int) -> None:
    texts = {k: (RAW / f"{SEEDS[k]}.txt").read_text() for k in ("000", "003")}
    for mode in ("other clean seed as reference", "no references"):
        t = Totals()
        scores = []
        for seed in range(runs):
            for k, other in (("000", "003"), ("003", "000")):
                spun, gold = spin(texts[k], seed)
                refs = [texts[other]] if mode.startswith("other") else []
                out, secs = _timed([_doc(f"spun-{k}", spun)], refs, settings)
                t.add(score(spun, gold, out[0].edits, ALL), len(spun.encode()), secs)
                scores.append(out[0].spin_score)
        print(t.line(f"spun 000/003 x{runs} seeds, {mode}"), f" min spin {min(scores):.2f}")


def ecb(settings, n: int, misses: bool = False) -> None:
    if not ECB.exists():
        print(f"ECB+ skipped: {ECB} not found")
        return
    rows = [json.loads(x) for x in ECB.read_text().splitlines()]
    picked = rows[:: max(1, len(rows) // n)][:n]
    by_topic: dict[str, list[str]] = {}
    for r in rows:
        by_topic.setdefault(r["topic"], []).append(r["text"])
    clean_docs = [_doc(r["doc_id"], r["text"]) for r in picked]
    out, secs = _timed(clean_docs, [], settings)
    flagged = [r for r in out if r.is_spun]
    edits = sum(sum(e.applied for e in r.edits) for r in out)
    nbytes = sum(len(d.clean_text.encode()) for d in clean_docs)
    print(
        f"ECB+ {len(picked)} clean articles: flagged spun {len(flagged)}, applied edits {edits}, "
        f"max spin {max(r.spin_score for r in out):.2f}, {nbytes / 1024 / secs:.1f} KB/s CPU"
    )
    for mode in ("same-topic clean articles as references", "no references"):
        t = Totals()
        missed = 0
        for seed, r in enumerate(picked):
            spun, gold = spin(r["text"], seed)
            refs = [x for x in by_topic[r["topic"]] if x != r["text"]][:5] if mode.startswith("same") else []
            res, secs = _timed([_doc(r["doc_id"], spun)], refs, settings)
            missed += not res[0].is_spun
            sc = score(spun, gold, res[0].edits, ALL)
            t.add(sc, len(spun.encode()), secs)
            if misses:
                for e in sc.wrong:
                    print(f"  FALSE {mode[:4]} {e.rule} {spun[max(0, e.clean_start - 30) : e.clean_start]!r} [{e.original}] -> {e.replacement!r}")
        print(t.line(f"ECB+ {len(picked)} spun, {mode}"), f" not detected {missed}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ecb", type=int, default=60, help="ECB+ articles to spin (0 = skip)")
    ap.add_argument("--misses", action="store_true", help="list seed-001 gold items missed and false edits")
    ap.add_argument("--runs", type=int, default=3, help="random seeds per clean seed")
    args = ap.parse_args()
    settings = load_settings().despin
    t0 = time.perf_counter()
    seed_gold(settings, args.misses)
    spun_seeds(settings, args.runs)
    if args.ecb:
        ecb(settings, args.ecb, args.misses)
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
