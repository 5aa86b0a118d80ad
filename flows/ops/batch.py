"""The CPU-bound work on one batch of documents, as plain functions a process pool or a Dask worker runs.

Needs: the read files of a batch (bytes and hash), the run's Settings and, for spun documents, the
clean reference texts their repair aligns against.
Adds: ``prepare_batch`` decodes, cleans and scores a batch and finishes its clean documents at once
(despin pass-through, extraction); ``finish_batch`` repairs and extracts documents (the spun ones,
once every batch has been scored and the references are known). A document whose stage raises is
quarantined with the error (reason ``failed``) instead of failing its batch, so nothing else is lost
and the next run retries it. Imports no Prefect, so pool workers stay small.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from flows import clean as clean_stage
from flows import ingest as ingest_stage
from flows.despin.detect import score_spin
from flows.despin.repair import repair_documents
from flows.extract.run import extract_documents
from flows.records import CleanDocument, Extraction, Quarantined, RepairedDocument, SourceMeta
from flows.rows import BatchRows, batch_rows
from flows.settings import Settings

FAILED = "failed"  # quarantine reason of a document a stage raised on

_FLOWS = Path(__file__).resolve().parent.parent
# what decides a document's rows: the stage code, the rule files (not the benchmark generator's) and the
# libraries that decode text and give word frequencies
_STAGE_CODE = ("ingest.py", "clean.py", "records.py", "rows.py", "despin/*.py", "extract/*.py", "rules/*.py")
_STAGE_RULES = ("rules/*.tsv", "rules/despin/*", "rules/extract/*", "rules/timex/*")
_STAGE_LIBRARIES = ("beautifulsoup4", "charset-normalizer", "ftfy", "wordfreq")


@cache
def _stage_files_digest() -> str:
    h = hashlib.sha1()
    for pattern in (*_STAGE_CODE, *_STAGE_RULES):
        for path in sorted(_FLOWS.glob(pattern)):
            if path.is_file():
                h.update(path.relative_to(_FLOWS).as_posix().encode())
                h.update(path.read_bytes())
    for name in _STAGE_LIBRARIES:
        try:
            h.update(f"{name}={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{name}=none".encode())
    return h.hexdigest()


def processing_fingerprint(settings: Settings) -> str:
    """A fingerprint of everything that decides a document's rows besides its bytes.

    The settings of the per-document stages (decoding, cleaning, despin, extraction; not size limits or
    batching), their code and rule files, and the libraries they lean on. A document loaded under another
    fingerprint is processed again by the next run, as a changed file is.
    """
    i = settings.ingest
    decoding = (i.legacy_encoding, i.legacy_chaos_tolerance, i.multibyte_min_high_byte_share)
    h = hashlib.sha1(repr((decoding, settings.clean, settings.despin, settings.extract)).encode())
    h.update(_stage_files_digest().encode())
    return h.hexdigest()[:16]


@dataclass
class BatchResult:
    """What one call did: finished documents, documents still to repair, refusals and CPU seconds per stage."""

    repaired: list[RepairedDocument] = field(default_factory=list)
    extractions: list[Extraction] = field(default_factory=list)
    spun: list[CleanDocument] = field(default_factory=list)  # scored as spun: repaired later with references
    # with as_rows: the finished documents as warehouse rows instead (repaired and extractions left empty)
    rows: BatchRows | None = None
    finished: int = 0  # documents finished (repaired and extracted)
    quarantined: list[Quarantined] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        """Add seconds to a stage's total."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def _failed(path: str, sha: str | None, stage: str, exc: BaseException) -> Quarantined:
    msg = " ".join(str(exc).split())[:300]
    return Quarantined(
        path,
        FAILED,
        f"{path}: the {stage} stage failed ({type(exc).__name__}: {msg}); the document was set aside and the "
        "next run retries it",
        sha,
    )


def _per_doc(stage: str, fn: Callable[[list], list], items: list, key: Callable, out: BatchResult) -> list:
    """Run a batch stage; if it raises, run it one item at a time and quarantine only the items that raise."""
    t0 = time.process_time()
    try:
        return fn(items)
    except Exception:  # noqa: BLE001  (any stage bug: isolate the document that triggers it)
        kept = []
        for item in items:
            try:
                kept.extend(fn([item]))
            except Exception as exc:  # noqa: BLE001
                path, sha = key(item)
                out.quarantined.append(_failed(path, sha, stage, exc))
        return kept
    finally:
        out.add(stage, time.process_time() - t0)


def _clean_key(d: CleanDocument) -> tuple[str, str]:
    return d.doc.source_path, d.doc.content_sha256


def _finish(
    docs: list[CleanDocument], references: Sequence[str], settings: Settings, out: BatchResult, spin: list | None = None
) -> None:
    """Repair then extract; ``spin`` (score_spin results, one per document) spares clean documents a second analysis."""
    items = list(zip(docs, spin, strict=True)) if spin is not None else [(d, None) for d in docs]

    def repair(batch: list) -> list[RepairedDocument]:
        given = [s for _d, s in batch] if spin is not None else None
        return repair_documents([d for d, _s in batch], references, settings.despin, spin=given)

    repaired = _per_doc("repair", repair, items, lambda item: _clean_key(item[0]), out)
    extractions = _per_doc(
        "extract", lambda b: extract_documents(b, settings.extract), repaired, lambda r: _clean_key(r.clean), out
    )
    done = {e.doc_id for e in extractions}
    out.repaired.extend(r for r in repaired if r.doc_id in done)
    out.extractions.extend(extractions)
    out.finished = len(out.repaired)


def _as_rows(out: BatchResult, settings: Settings) -> BatchResult:
    """Turn the finished documents into warehouse rows here, in the worker, instead of in the single writer.

    The flow process then unpickles lists of plain values instead of thousands of records and only
    hands them to DuckDB: of its per-batch work, building rows and unpickling records was the larger part.
    """
    t0 = time.process_time()
    out.rows = batch_rows(out.repaired, out.extractions, settings.reconcile)
    out.repaired, out.extractions = [], []
    out.add("rows", time.process_time() - t0)
    return out


def prepare_batch(
    reads: Sequence[ingest_stage.ReadResult],
    metadata: Mapping[str, SourceMeta],
    settings: Settings,
    as_rows: bool = False,
) -> BatchResult:
    """Decode, clean and score a batch; finish its clean documents; hand back the spun ones unrepaired."""
    out = BatchResult()
    t0 = time.process_time()
    docs, refused = ingest_stage.decode_sources(reads, metadata, settings.ingest)
    out.add("ingest", time.process_time() - t0)
    out.quarantined.extend(refused)
    cleaned = _per_doc(
        "clean",
        lambda b: clean_stage.clean_documents(b, settings.clean),
        docs,
        lambda d: (d.source_path, d.content_sha256),
        out,
    )
    scored = _per_doc(
        "score", lambda b: [(d, score_spin(d.clean_text, settings.despin)) for d in b], cleaned, _clean_key, out
    )
    threshold = settings.despin.spun_threshold
    out.spun = [d for d, s in scored if s[0] >= threshold]
    clean = [(d, s) for d, s in scored if s[0] < threshold]
    _finish([d for d, _s in clean], (), settings, out, spin=[s for _d, s in clean])
    return _as_rows(out, settings) if as_rows else out


def finish_batch(
    docs: Sequence[CleanDocument], references: Sequence[str], settings: Settings, as_rows: bool = False
) -> BatchResult:
    """Repair (against ``references``) and extract a batch of cleaned documents."""
    out = BatchResult()
    _finish(list(docs), references, settings, out)
    return _as_rows(out, settings) if as_rows else out


def settle_gc(gen0_threshold: int) -> None:
    """Collect cycles less often, and never again over what is loaded by now (modules, rule tables).

    The stages allocate many small records per document (tokens, candidates, edits) and few cycles;
    with Python's default threshold (700) the collector ran so often, re-walking every live
    record and module, that it took about a fifth of the CPU of scoring, repair and extraction.
    0 keeps Python's defaults.
    """
    if gen0_threshold <= 0:
        return
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def init_worker(pid: int, poll_s: float, gen0_threshold: int) -> None:
    """Pool initializer: watch the parent run and settle the collector."""
    watch_parent(pid, poll_s)
    settle_gc(gen0_threshold)


def watch_parent(pid: int, poll_s: float) -> None:
    """End this worker when the run that started it is gone (even after kill -9).

    A pool worker blocked on its work queue is not told that the run is gone, so it could outlive a killed run.
    """

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # the pid exists under another user: ours is gone and was reused
                os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def warm_up() -> int:
    """Nothing but a round trip: makes a pool start its worker processes before the work arrives."""
    return 0
