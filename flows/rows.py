"""A batch as the warehouse stores it: per table, columns of plain values.

Needs: the repaired documents of a batch and their extractions (flows.records).
Adds: ``BatchRows``, the rows of every table a batch fills, column by column (lists of strings,
numbers, dates and, for each document's copy-detection shingles, bytes), without the run id and
load time, which the single writer adds. Built in
the worker process that made the batch: the flow process then unpickles lists of plain values
instead of thousands of records, and hands them to DuckDB as frames (flows.warehouse.load_rows).
Imports neither DuckDB nor pandas, so pool workers stay small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cache

from flows.reconcile.trust import encode_shingles, shingle_settings, text_shingles
from flows.records import BoilerplateHit, Claim, Edit, Extraction, Mention, RepairedDocument, Timex
from flows.settings import ReconcileSettings

CLAIM_COLUMNS = (
    "claim_id", "doc_id", "kind", "subject", "subject_entity_id", "predicate", "object", "object_entity_id",
    "quote_text", "venue", "outlet", "place", "time_text", "time_value", "time_start", "time_end", "granularity",
    "time_anchored", "modality", "polarity", "number", "sentence", "start", "end", "raw_start", "raw_end",
    "extractor", "confidence",
)  # fmt: skip

DOCUMENT_COLUMNS = (
    "doc_id", "source_path", "content_sha256", "size_bytes", "media_type", "encoding", "title", "url", "outlet",
    "author", "raw_text", "clean_text", "normalized_text", "spin_score", "is_spun", "published_at",
    "published_at_basis", "published_not_before",
)  # fmt: skip
ENTITY_COLUMNS = ("entity_id", "name", "type", "aliases")


@dataclass
class BatchRows:
    """The rows one batch adds: ``tables[table][column]`` is a list, one value per row."""

    doc_ids: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, list]] = field(default_factory=dict)
    entities: dict[str, tuple] = field(default_factory=dict)  # entity_id -> values in ENTITY_COLUMNS order

    def count(self, table: str) -> int:
        """Rows of one table."""
        cols = self.tables.get(table)
        return len(next(iter(cols.values()))) if cols else 0


@cache
def field_names(cls: type) -> tuple[str, ...]:
    """A record class's field names, in order (looked up once per class)."""
    return tuple(f.name for f in fields(cls))


def edit_id(doc_id: str, e_start: int, e_end: int, replacement: str) -> str:
    """The stable id of an edit: the same edit of the same document gets the same id in every run."""
    return hashlib.sha1(f"{doc_id}\x1f{e_start}\x1f{e_end}\x1f{replacement}".encode()).hexdigest()[:16]


def original_sentence(rd: RepairedDocument, c: Claim) -> str | None:
    """The garbled clean_text behind a claim's sentence, for documents that were repaired."""
    if not rd.edits:
        return None
    text = rd.normalized_text
    s0 = text.rfind(c.sentence, 0, c.end + len(c.sentence)) if c.sentence else -1
    start, end = (s0, s0 + len(c.sentence)) if s0 >= 0 else (c.start, c.end)
    a, b = rd.norm_to_clean.to_source(start, end)
    original = rd.clean.clean_text[a:b]
    return original if original != text[start:end] else None


class _Columns:
    """Columns of one table, appended to row by row (attribute reads, no dict per row)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.lists: list[list] = [[] for _ in names]

    def add(self, values: Sequence[object]) -> None:
        for column, value in zip(self.lists, values, strict=True):
            column.append(value)

    def add_record(self, record: object, extra: Sequence[object] = ()) -> None:
        """A flat record's fields (shallow: the loaded records hold only scalars and dates), then extras."""
        self.add([*map(record.__getattribute__, field_names(type(record))), *extra])

    def as_dict(self) -> dict[str, list]:
        return dict(zip(self.names, self.lists, strict=True))


def batch_rows(docs: Sequence[RepairedDocument], extractions: Sequence[Extraction],
               shingling: ReconcileSettings | None = None) -> BatchRows:
    """Every row a batch of documents and their extractions adds to the warehouse.

    With ``shingling``, also each document's copy-detection shingles (made here, in the worker, so
    reconcile reads them instead of shingling every text of the warehouse again).
    """
    by_id = {e.doc_id: e for e in extractions}
    # tables filled from one record each take the record's field names as columns (run_id and, for
    # documents, loaded_at come from the loader)
    tables = {
        "documents": _Columns(DOCUMENT_COLUMNS),
        "boilerplate": _Columns(field_names(BoilerplateHit)),
        "normalization_edits": _Columns((*field_names(Edit), "edit_id")),
        "spin_sentences": _Columns(("doc_id", "clean_start", "clean_end", "score", "signals")),
        "timexes": _Columns((*field_names(Timex), "doc_id")),
        "mentions": _Columns(field_names(Mention)),
        "claims": _Columns((*CLAIM_COLUMNS, "original_text")),
    }
    out = BatchRows()
    for rd in docs:
        raw = rd.clean.doc
        ex = by_id.get(rd.doc_id)
        date = ex.date if ex else None
        out.doc_ids.append(raw.doc_id)
        tables["documents"].add(
            (
                raw.doc_id, raw.source_path, raw.content_sha256, raw.size_bytes, raw.media_type, raw.encoding,
                rd.clean.title, raw.meta.url, raw.meta.outlet, raw.meta.author, raw.raw_text, rd.clean.clean_text,
                rd.normalized_text, rd.spin_score, rd.is_spun, date.published_at if date else None,
                date.basis if date else "unknown", date.not_before if date else None,
            )
        )  # fmt: skip
        for h in rd.clean.removed:
            if isinstance(h, BoilerplateHit):
                tables["boilerplate"].add_record(h)
        seen_edits: set[str] = set()
        for e in rd.edits:
            eid = edit_id(e.doc_id, e.clean_start, e.clean_end, e.replacement)
            if eid not in seen_edits:
                seen_edits.add(eid)
                tables["normalization_edits"].add_record(e, (eid,))
        for s in rd.sentences:
            tables["spin_sentences"].add((rd.doc_id, s.start, s.end, s.score, list(s.signals)))
        if ex is None:
            continue
        for t in ex.timexes:
            tables["timexes"].add_record(t, (rd.doc_id,))
        for m in ex.mentions:
            tables["mentions"].add_record(m)
        for ent in ex.entities:
            out.entities[ent.entity_id] = (ent.entity_id, ent.name, ent.type, list(ent.aliases))
        seen_claims: set[str] = set()
        claims = tables["claims"]
        for c in ex.claims:
            if c.claim_id not in seen_claims:
                seen_claims.add(c.claim_id)
                claims.add([*map(c.__getattribute__, CLAIM_COLUMNS), original_sentence(rd, c)])
    if shingling is not None:
        size, mod = shingle_settings(shingling)
        shingles = tables["doc_shingles"] = _Columns(("doc_id", "shingle_words", "sample_mod", "hashes", "positions"))
        for doc_id, hashes, positions in text_shingles(((rd.doc_id, rd.normalized_text) for rd in docs), shingling):
            shingles.add((doc_id, size, mod, *encode_shingles(hashes, positions)))
    out.tables = {name: cols.as_dict() for name, cols in tables.items()}
    return out
