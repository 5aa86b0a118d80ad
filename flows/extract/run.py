"""Extraction batch entry point: repaired documents in, one Extraction per document out.

Needs: RepairedDocument records (``normalized_text`` plus offset maps) and ExtractSettings.
Adds: per document its date (flows.extract.docdate), timexes anchored on that date
(flows.extract.timex), entity mentions resolved across the whole batch (flows.extract.entities),
and claims: quotes (flows.extract.quotes), events and facts (flows.extract.events), each with
evidence offsets into normalized_text and raw_text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flows.extract.context import DocContext
from flows.extract.docdate import infer_document_date
from flows.extract.entities import Candidate, find_candidates, mentions_of, resolve
from flows.extract.events import extract_events, extract_facts, find_roles
from flows.extract.quotes import extract_quotes
from flows.extract.sentences import Layout, split_sentences
from flows.extract.timex import tag_timexes
from flows.records import DocumentDate, Extraction, RepairedDocument, Timex
from flows.settings import ExtractSettings


@dataclass
class _Prepared:
    doc: RepairedDocument
    layout: Layout
    date: DocumentDate
    timexes: tuple[Timex, ...]
    candidates: list[Candidate]
    roles: list[tuple[Candidate, Candidate, int, int]]


def _prepare(doc: RepairedDocument, settings: ExtractSettings) -> _Prepared:
    text = doc.normalized_text
    layout = split_sentences(text)
    meta_date = doc.clean.doc.meta.published_at
    if meta_date is not None:
        date = infer_document_date(text, meta_date, settings=settings)
        timexes = tag_timexes(text, meta_date, settings=settings)
    else:
        first = tag_timexes(text, None, settings=settings)
        date = infer_document_date(text, None, first, settings=settings)
        # tag again against the inferred date only when some expression depends on it
        relative = any(not (t.anchored and t.rule.startswith("abs:")) for t in first)
        timexes = tag_timexes(text, date.published_at, settings=settings) if date.published_at and relative else first
    cands = find_candidates(doc.doc_id, text, layout, settings)
    roles = find_roles(text, cands, set())
    return _Prepared(doc, layout, date, timexes, cands, roles)


def extract_documents(docs: Sequence[RepairedDocument], settings: ExtractSettings) -> list[Extraction]:
    """Extract dates, times, entities and claims from a batch; entities are resolved across the batch."""
    prepared = [_prepare(d, settings) for d in docs]
    all_cands = [c for p in prepared for c in p.candidates]
    role_pairs = [(actor.text, ch.text) for p in prepared for actor, ch, _a, _b in p.roles]
    entities = resolve(all_cands, role_pairs, settings)
    by_id = {e.entity_id: e for e in entities}
    out = []
    for p in prepared:
        ctx = DocContext(p.doc, p.doc.normalized_text, p.layout, p.candidates, by_id, p.timexes, settings.pronoun_lookback_sentences)
        claims = extract_quotes(ctx, settings)
        claims += extract_events(ctx, settings)
        claims += extract_facts(ctx, [r for r in p.roles if r[0].entity_id and r[1].entity_id], settings)
        claims.sort(key=lambda c: (c.start, c.end, c.kind, c.predicate, c.subject or ""))
        mentions = mentions_of(p.candidates)
        used = {m.entity_id for m in mentions}
        out.append(
            Extraction(
                doc_id=p.doc.doc_id,
                date=p.date,
                timexes=p.timexes,
                mentions=mentions,
                claims=tuple(_dedupe(claims)),
                entities=tuple(by_id[i] for i in sorted(used)),
            )
        )
    return out


def _dedupe(claims: list) -> list:
    seen, out = set(), []
    for c in claims:
        if c.claim_id not in seen:
            seen.add(c.claim_id)
            out.append(c)
    return out
