"""Synthetic claims at scale, to measure grouping and comparison.

Run: ``.venv/bin/python -m tests.reconcile.synthetic 20000`` (documents; ~10 claims each).
Subjects follow a skewed distribution, so some blocks are large, as with the main person of a story.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date

from flows.reconcile.compare import compare_groups
from flows.reconcile.group import group_claims
from flows.records import Claim
from flows.settings import ReconcileSettings

PREDICATES = ("married", "born", "released", "arrested", "resigned", "met", "killed")
FIRSTS = ("first:kiss", "first:album", "first:role")
COUNTS = ("count:seasons", "count:victims", "count:goals")
PLACES = ("Pasadena", "California", "Boston", "Paris", "Toronto", "Lake Como", "Italy", "St. Louis")


def make_claims(n_docs: int, seed: int = 1, per_doc: int = 10) -> list[Claim]:
    """About ``per_doc`` claims per document: 30% quotes, 40% events, 30% facts."""
    rnd = random.Random(seed)
    vocab = [f"w{i}" for i in range(20_000)]
    n_subjects = max(50, n_docs // 10)
    subjects = [f"Person {i}" for i in range(n_subjects)]
    weights = [1.0 / (i + 1) for i in range(n_subjects)]
    statements = {s: [[rnd.choice(vocab) for _ in range(30)] for _ in range(5)] for s in subjects[:2000]}
    speakers = list(statements)
    out: list[Claim] = []
    for d in range(n_docs):
        doc = f"doc{d:06d}"
        for k in range(per_doc):
            r = rnd.random()
            subject = rnd.choices(subjects, weights)[0]
            base = dict(claim_id=f"{doc}-{k}", doc_id=doc, subject=subject, sentence="s", start=k, end=k + 1,
                        raw_start=k, raw_end=k + 1, extractor="synthetic", confidence=0.9)
            if r < 0.3:
                speaker = rnd.choices(speakers, weights[: len(speakers)])[0]
                words = rnd.choice(statements[speaker])
                a = rnd.randrange(0, 15)
                frag = [w if rnd.random() > 0.05 else rnd.choice(vocab) for w in words[a : a + rnd.randrange(6, 15)]]
                base["subject"] = speaker
                out.append(Claim(kind="quote", predicate="said", object=None, quote_text=" ".join(frag), **base))
            elif r < 0.7:
                year = 1990 + rnd.randrange(30)
                month = rnd.randrange(1, 13) if rnd.random() < 0.5 else None
                start = date(year, month or 1, 1)
                end = date(year + (month == 12), month % 12 + 1, 1) if month else date(year + 1, 1, 1)
                out.append(Claim(kind="event", predicate=rnd.choice(PREDICATES), object=None,
                                 time_value=f"{year}" + (f"-{month:02d}" if month else ""), time_start=start,
                                 time_end=end, granularity="month" if month else "year", time_anchored=True,
                                 place=rnd.choice(PLACES) if rnd.random() < 0.3 else None, **base))
            elif r < 0.85:
                out.append(Claim(kind="fact", predicate=rnd.choice(FIRSTS), object=f"Work {rnd.randrange(3)}", **base))
            else:
                out.append(Claim(kind="fact", predicate=rnd.choice(COUNTS), object=None,
                                 number=float(rnd.choice((9, 9, 9, 10, 12))), **base))
    return out


def measure(n_docs: int) -> dict[str, float]:
    """Seconds to group and to compare the synthetic claims of ``n_docs`` documents."""
    settings = ReconcileSettings()
    claims = make_claims(n_docs)
    t0 = time.perf_counter()
    groups = group_claims(claims, settings)
    t1 = time.perf_counter()
    verdicts = compare_groups(groups, {}, settings)
    t2 = time.perf_counter()
    return {"docs": n_docs, "claims": len(claims), "groups": len(groups), "verdicts": len(verdicts),
            "group_s": round(t1 - t0, 2), "compare_s": round(t2 - t1, 2)}


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [2000]:
        print(measure(n))
