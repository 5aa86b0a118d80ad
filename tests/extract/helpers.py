"""Build extractor inputs for tests: plain texts as RepairedDocuments, seeds through clean + despin."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flows import clean, ingest
from flows.despin.detect import score_spin
from flows.despin.repair import repair_documents
from flows.records import CleanDocument, OffsetMap, RawDocument, RepairedDocument
from flows.settings import Settings


def plain_document(doc_id: str, text: str) -> RepairedDocument:
    """A text taken as already clean and unspun (identity offset maps)."""
    raw = RawDocument(doc_id, doc_id, "", text, "text", "utf-8", len(text.encode()))
    cleaned = CleanDocument(raw, None, text, OffsetMap.identity(len(text)))
    return RepairedDocument(cleaned, text, OffsetMap.identity(len(text)), 0.0, False)


def repaired_folder(raw_dir: Path, settings: Settings) -> list[RepairedDocument]:
    """The documents of a raw folder after ingest, clean and despin, as the pipeline prepares them."""
    found = ingest.discover(raw_dir, settings.ingest)
    reads, _ = ingest.read_sources(found.files, settings.ingest)
    docs, _ = ingest.decode_sources(reads, dict(found.metadata), settings.ingest)
    cleaned: Sequence[CleanDocument] = clean.clean_documents(docs, settings.clean)
    refs = [d.clean_text for d in cleaned if score_spin(d.clean_text, settings.despin)[0] < settings.despin.spun_threshold]
    return repair_documents(cleaned, refs, settings.despin)
