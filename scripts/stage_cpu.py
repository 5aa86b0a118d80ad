"""CPU seconds per stage on a folder of articles, every stage in this one process (no Prefect, no workers).

Run: .venv/bin/python scripts/stage_cpu.py RAW_DIR [STAGE]
A corpus to try it on: `recon bench --docs 1000 --keep /tmp/b` leaves one in /tmp/b/raw.
Stages: decode, clean, score, references, repair (spun documents, against the clean ones, in
batches as the pipeline ships them), extract (batches of run.batch_size), load (a fresh warehouse
in a temporary folder), reconcile, report. With STAGE, also prints a cProfile of that stage.
The default collector settings apply here (the pipeline's workers collect less often), so worker
stages read somewhat higher than in a run.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows import clean as clean_stage  # noqa: E402
from flows import ingest  # noqa: E402
from flows import warehouse as wh  # noqa: E402
from flows.despin.detect import score_spin  # noqa: E402
from flows.despin.repair import repair_documents  # noqa: E402
from flows.extract.run import extract_documents  # noqa: E402
from flows.ops.refs import ReferenceIndex, select_references  # noqa: E402
from flows.reconcile.compare import compare_groups  # noqa: E402
from flows.reconcile.group import group_claims  # noqa: E402
from flows.reconcile.trust import copy_trust  # noqa: E402
from flows.report.render import render_report  # noqa: E402
from flows.settings import load_settings  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    corpus, profiled = Path(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else None)
    settings = load_settings()
    seconds: dict[str, float] = {}

    def stage(name, fn):
        profiler = cProfile.Profile() if name == profiled else None
        t0 = time.process_time()
        if profiler:
            profiler.enable()
        out = fn()
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        seconds[name] = time.process_time() - t0
        return out

    found = ingest.discover(corpus, settings.ingest)
    reads, _unread = ingest.read_sources(found.files, settings.ingest)
    docs, _refused = stage("decode", lambda: ingest.decode_sources(reads, found.metadata, settings.ingest))
    cleaned = stage("clean", lambda: clean_stage.clean_documents(docs, settings.clean))
    scored = stage("score", lambda: [(d, score_spin(d.clean_text, settings.despin)) for d in cleaned])
    threshold = settings.despin.spun_threshold
    spun = [d for d, s in scored if s[0] >= threshold]
    clean = [(d, s) for d, s in scored if s[0] < threshold]
    passed = repair_documents([d for d, _ in clean], (), settings.despin, spin=[s for _, s in clean])
    refs = {r.doc_id: r.normalized_text for r in passed}
    size, per_doc = settings.run.spun_batch_size, settings.run.references_per_doc

    def references():
        index = ReferenceIndex(refs) if 0 < per_doc < len(refs) else None
        return [
            select_references([(d.doc.doc_id, d.clean_text) for d in spun[i : i + size]], refs, per_doc, index)
            for i in range(0, len(spun), size)
        ]

    shipped = stage("references", references)
    repaired = stage(
        "repair",
        lambda: [r for k, i in enumerate(range(0, len(spun), size))
                 for r in repair_documents(spun[i : i + size], shipped[k], settings.despin)],
    )  # fmt: skip
    every = passed + repaired
    batch = settings.run.batch_size
    extractions = stage(
        "extract",
        lambda: [e for i in range(0, len(every), batch) for e in extract_documents(every[i : i + batch], settings.extract)],
    )
    by_id = {e.doc_id: e for e in extractions}
    with tempfile.TemporaryDirectory() as tmp, wh.connect(Path(tmp) / "w.duckdb") as con:
        wh.start_run(con, "stage-cpu", str(corpus), "local")

        def load():
            for i in range(0, len(every), batch):
                docs_i = every[i : i + batch]
                wh.load_batch(con, "stage-cpu", docs_i, [by_id[d.doc_id] for d in docs_i if d.doc_id in by_id])

        def reconcile():
            claims = wh.all_claims(con)
            # as the pipeline does it: texts streamed, never all held
            trust, copies = copy_trust(wh.stream_texts(con), partial(wh.texts_of, con), wh.spin_scores(con), settings.reconcile)
            groups = group_claims(claims, settings.reconcile)
            verdicts = compare_groups(groups, trust, settings.reconcile)
            wh.replace_conflicts(con, "stage-cpu", groups, verdicts, trust, copies)
            return len(claims), len(groups)

        def report():
            report = settings.report
            conflicts, evidence = wh.report_frames(con, report.sources_per_position, report.positions_per_card)
            return render_report(conflicts, evidence, Path(tmp) / "report", run_id="stage-cpu", settings=report)

        stage("load", load)
        n_claims, n_groups = stage("reconcile", reconcile)
        stage("report", report)
    total = sum(seconds.values())
    print(f"{len(docs)} articles ({len(spun)} scored spun), {n_claims} claims, {n_groups} groups")
    print("CPU seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()))
    print(f"total {total:.2f} s = {1000 * total / max(len(docs), 1):.1f} ms per article")


if __name__ == "__main__":
    main()
