"""Repair quality and CPU at corpus scale, batched as the pipeline batches it, where the unspun words are known.

Run: .venv/bin/python scripts/eval_bench_repair.py [--docs N] [--batch B] [--per-doc K] [--order file|reference]
Generates N articles from raw/ as `recon bench` does, keeping the text of every copy the generator
spins from before its spinning; decodes, cleans and scores them all; ships each batch of B spun
documents its documents' K nearest clean texts (run.spun_batch_size and run.references_per_doc
by default) and repairs them as the pipeline's repair tasks do. ``--order reference`` batches spun
documents by their nearest clean text instead of in file order.

Prints, over the generator's spun copies of clean articles: word errors against the unspun text
before and after repair (a word error is a word of the unspun text missing or replaced, or one
added), the share repaired, and repair CPU ms per spun document. Copies of an article that is
itself spun (seed 001) are repaired too but not scored: their unspun text is not known.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows import clean as clean_stage  # noqa: E402
from flows import ingest  # noqa: E402
from flows.despin.detect import score_spin  # noqa: E402
from flows.despin.repair import repair_documents  # noqa: E402
from flows.ops import bench  # noqa: E402
from flows.ops.refs import ReferenceIndex, select_references  # noqa: E402
from flows.settings import PROJECT_ROOT, load_settings  # noqa: E402

_WORD = re.compile(r"\w+(?:'\w+)?")


def word_errors(text: str, truth: str) -> int:
    """Words of ``truth`` missing or replaced in ``text``, plus words ``text`` adds (an edit distance on words)."""
    a, b = _WORD.findall(text), _WORD.findall(truth)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def generate(raw: Path, out: Path, n: int, ops) -> list[str]:
    """Write the corpus; return the generator's spun outputs with their unspun inputs, in order written."""
    spun: list[tuple[str, str]] = []
    real = bench.spin_text

    def recording(text, rng, rate, rules):
        result = real(text, rng, rate, rules)
        spun.append((result, text))
        return result

    bench.spin_text = recording
    try:
        bench.generate_corpus(raw, out, n, ops)
    finally:
        bench.spin_text = real
    return spun


def main() -> None:
    settings = load_settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=settings.run.spun_batch_size)
    ap.add_argument("--per-doc", type=int, default=settings.run.references_per_doc)
    ap.add_argument("--order", choices=("file", "reference"), default="file")
    ap.add_argument("--raw", type=Path, default=PROJECT_ROOT / "raw")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "raw"
        spun_pairs = generate(args.raw, corpus, args.docs, settings.ops)
        found = ingest.discover(corpus, settings.ingest)
        reads, _unread = ingest.read_sources(found.files, settings.ingest)
        docs, _refused = ingest.decode_sources(reads, found.metadata, settings.ingest)
    # each generated spun copy, matched to its file in the order written: the byline comes after spinning
    truth_raw: dict[str, str] = {}
    pending = iter(spun_pairs)
    want = next(pending, None)
    for d in docs:
        if want is not None and d.raw_text.endswith(want[0]):
            truth_raw[d.doc_id] = d.raw_text[: len(d.raw_text) - len(want[0])] + want[1]
            want = next(pending, None)
    cleaned = clean_stage.clean_documents(docs, settings.clean)
    truth_docs = clean_stage.clean_documents([replace(d, raw_text=truth_raw[d.doc_id]) for d in docs if d.doc_id in truth_raw],
                                             settings.clean)  # fmt: skip
    threshold = settings.despin.spun_threshold
    # only copies of clean articles: the unspun text of a copy of an already spun article is not clean
    truth = {t.doc.doc_id: t.clean_text for t in truth_docs if score_spin(t.clean_text, settings.despin)[0] < threshold}
    scored = [(d, score_spin(d.clean_text, settings.despin)) for d in cleaned]
    spun = [d for d, s in scored if s[0] >= threshold]
    clean = [(d, s) for d, s in scored if s[0] < threshold]
    passed = repair_documents([d for d, _ in clean], (), settings.despin, spin=[s for _, s in clean])
    refs = {r.doc_id: r.normalized_text for r in passed}
    index = ReferenceIndex(refs) if 0 < args.per_doc < len(refs) else None
    if args.order == "reference" and index is not None:
        nearest = {d.doc.doc_id: index.nearest(d.clean_text, 1, exclude=d.doc.doc_id) for d in spun}
        spun.sort(key=lambda d: (nearest[d.doc.doc_id], d.doc.doc_id))
    batches = [spun[i : i + args.batch] for i in range(0, len(spun), args.batch)]
    shipped = [select_references([(d.doc.doc_id, d.clean_text) for d in b], refs, args.per_doc, index) for b in batches]
    t0 = time.process_time()
    repaired = [r for b, sh in zip(batches, shipped, strict=True) for r in repair_documents(b, sh, settings.despin)]
    cpu = time.process_time() - t0
    before = after = 0
    scored_docs = 0
    for r in repaired:
        if r.doc_id in truth:
            scored_docs += 1
            before += word_errors(r.clean.clean_text, truth[r.doc_id])
            after += word_errors(r.normalized_text, truth[r.doc_id])
    missed = sum(1 for d in truth if d not in {r.doc_id for r in repaired})
    print(
        f"{args.docs} articles, {len(spun)} scored spun, batches of {args.batch}, {args.per_doc} references per "
        f"document, {args.order} order: {sum(map(len, shipped)) / max(len(shipped), 1):.0f} reference texts per batch"
    )
    print(
        f"  {scored_docs} generated spun copies of clean articles ({missed} not scored spun): word errors "
        f"{before} before repair, {after} after = {1 - after / max(before, 1):.1%} repaired"
    )
    print(f"  repair CPU {cpu:.1f} s = {1000 * cpu / max(len(spun), 1):.1f} ms per spun document")


if __name__ == "__main__":
    main()
