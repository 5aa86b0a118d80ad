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


def test_rows_built_in_the_worker_load_the_same_warehouse_as_the_records(tmp_path):
    """as_rows hands back warehouse rows instead of records; loading either gives the same tables."""
    import duckdb

    from flows import warehouse as wh

    settings = Settings()
    records = batch.prepare_batch(_reads(settings), {}, settings)
    rows = batch.prepare_batch(_reads(settings), {}, settings, as_rows=True)
    assert rows.finished == len(records.repaired) == 2 and not rows.repaired and not rows.extractions
    assert sorted(rows.rows.doc_ids) == sorted(r.doc_id for r in records.repaired)
    tables = ("documents", "boilerplate", "normalization_edits", "spin_sentences", "timexes", "mentions", "claims",
              "entities")  # fmt: skip
    dumps = []
    for name, load in (("a", lambda con: wh.load_batch(con, "run-1", records.repaired, records.extractions)),
                       ("b", lambda con: wh.load_rows(con, "run-1", rows.rows))):  # fmt: skip
        with wh.connect(tmp_path / f"{name}.duckdb") as con:
            wh.start_run(con, "run-1", "raw", "local")
            load(con)
        with duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True) as con:
            dumps.append({t: con.execute(f"SELECT * EXCLUDE (loaded_at) FROM {t} ORDER BY ALL").fetchall()
                          if t == "documents" else con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                          for t in tables})  # fmt: skip
    assert dumps[0]["claims"] and dumps[0]["mentions"]
    assert dumps[0] == dumps[1]
