"""Measure reconcile (trust + group + compare) at scale: synthetic claims, or the claims of a warehouse.

Run: ``.venv/bin/python -m tests.reconcile.synthetic 2000 20000`` (documents; ~10 claims each), or
``.venv/bin/python -m tests.reconcile.synthetic --warehouse /tmp/x/recon.duckdb`` after a ``recon run``.
Figures are the best of ``--repeat`` runs, CPU seconds (``time.process_time``) beside wall seconds: the
machine is shared, and CPU time is what the algorithm costs.
Subjects follow a skewed distribution, so some blocks are large, as with the main person of a story.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date

from flows.reconcile.compare import compare_groups
from flows.reconcile.group import group_claims
from flows.reconcile.trust import source_trust
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


def _timed(claims: list[Claim], texts: dict[str, str], spins: dict[str, float], repeat: int) -> dict[str, object]:
    settings = ReconcileSettings()
    best: dict[str, object] | None = None
    for _ in range(max(repeat, 1)):
        w0, c0 = time.perf_counter(), time.process_time()
        trust, _ = source_trust(texts, spins, settings)
        c1 = time.process_time()
        groups = group_claims(claims, settings)
        c2 = time.process_time()
        verdicts = compare_groups(groups, trust, settings)
        c3, w3 = time.process_time(), time.perf_counter()
        run = {"claims": len(claims), "groups": len(groups), "verdicts": len(verdicts),
               "conflicts": sum(v.verdict == "conflict" for v in verdicts), "trust_cpu_s": round(c1 - c0, 2),
               "group_cpu_s": round(c2 - c1, 2), "compare_cpu_s": round(c3 - c2, 2),
               "total_cpu_s": round(c3 - c0, 2), "total_wall_s": round(w3 - w0, 2)}
        if best is None or run["total_cpu_s"] < best["total_cpu_s"]:  # type: ignore[operator]
            best = run
    assert best is not None
    return best


def measure(n_docs: int, repeat: int = 1) -> dict[str, object]:
    """CPU and wall seconds to group and compare the synthetic claims of ``n_docs`` documents (no texts: no trust)."""
    return {"docs": n_docs, **_timed(make_claims(n_docs), {}, {}, repeat)}


def measure_warehouse(path: str, repeat: int = 3) -> dict[str, object]:
    """CPU and wall seconds of trust + group + compare over every claim and text in a warehouse."""
    from flows import warehouse as wh

    with wh.connect(path) as con:
        claims = wh.all_claims(con)
        texts, spins = dict(wh.stream_texts(con)), wh.spin_scores(con)
    return {"docs": len(texts), **_timed(claims, texts, spins, repeat)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", nargs="*", type=int, help="synthetic corpus sizes (documents)")
    parser.add_argument("--warehouse", help="time reconcile over this warehouse's claims instead")
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure; the best is kept")
    args = parser.parse_args()
    if args.warehouse:
        print(measure_warehouse(args.warehouse, args.repeat or 3))
    for n in args.docs or ([] if args.warehouse else [2000]):
        print(measure(n, args.repeat or 1), flush=True)
