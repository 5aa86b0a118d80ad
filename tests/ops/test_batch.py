"""Per-batch work: a document a stage raises on is quarantined with the error, the rest of its batch is kept."""

from __future__ import annotations

from pathlib import Path

from flows import ingest
from flows.ops import batch
from flows.settings import Settings

RAW = Path(__file__).resolve().parents[2] / "raw"


def _reads(settings: Settings):
    found = ingest.discover(RAW, settings.ingest)
    reads, _ = ingest.read_sources(found.files, settings.ingest)
    return reads


def test_prepare_finishes_clean_documents_and_holds_back_spun_ones():
    settings = Settings()
    out = batch.prepare_batch(_reads(settings), {}, settings)
    assert sorted(r.doc_id[:3] for r in out.repaired) == ["000", "003"]
    assert [d.doc.doc_id[:3] for d in out.spun] == ["001"]
    assert {e.doc_id for e in out.extractions} == {r.doc_id for r in out.repaired}
    assert not out.quarantined
    assert {"ingest", "clean", "score", "repair", "extract"} <= set(out.seconds)


def test_a_stage_failure_quarantines_only_the_document_it_fails_on(monkeypatch):
    settings = Settings()
    real = batch.extract_documents

    def flaky(docs, s):
        if any(d.doc_id.startswith("003_") for d in docs):
            raise ValueError("index out of range at offset 17")
        return real(docs, s)

    monkeypatch.setattr(batch, "extract_documents", flaky)
    out = batch.prepare_batch(_reads(settings), {}, settings)
    assert [r.doc_id[:3] for r in out.repaired] == ["000"]
    (q,) = out.quarantined
    assert q.source_path.startswith("003_") and q.reason == batch.FAILED
    assert "extract" in q.detail and "ValueError" in q.detail and "offset 17" in q.detail
    assert q.content_sha256


def test_finish_repairs_a_spun_document_against_references():
    settings = Settings()
    first = batch.prepare_batch(_reads(settings), {}, settings)
    refs = [r.normalized_text for r in first.repaired]
    out = batch.finish_batch(first.spun, refs, settings)
    (doc,) = out.repaired
    assert doc.is_spun and any(e.applied for e in doc.edits)
    assert len(out.extractions) == 1
