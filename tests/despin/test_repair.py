"""Repair: golden cases, pass-through of clean text, offsets, idempotence and the seed gold."""

from __future__ import annotations

import csv
import time

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from flows import records
from flows.despin.repair import repair_documents, repair_text
from flows.settings import DespinSettings
from tests.despin.gold import CASES, RAW, load_gold, raw_document, score

SEED_SPUN = RAW / "001_dda66812b07d539f.txt"
SEED_CLEAN = (RAW / "000_8886242603610b56.txt", RAW / "003_0a0e6922e87f18a4.txt")
FORCED = DespinSettings(spun_threshold=0.0)


def _cases() -> list[dict[str, str]]:
    lines = [x for x in (CASES / "cases.tsv").read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def _split(field: str) -> list[str]:
    return [x for x in field.split("|") if x and x != "-"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["case"])
def test_golden_case(case: dict[str, str]) -> None:
    out = repair_text(case["text"], _split(case["references"]), FORCED)
    for want in _split(case["with"]):
        assert want in out.normalized_text, (want, out.normalized_text)
    for bad in _split(case["without"]):
        assert bad not in out.normalized_text, (bad, out.normalized_text)
    _check_offsets(out)


def _check_offsets(out: records.RepairedDocument) -> None:
    clean, norm = out.clean.clean_text, out.normalized_text
    for e in out.edits:
        assert clean[e.clean_start : e.clean_end] == e.original
        assert e.rule and e.evidence and 0.0 <= e.confidence <= 1.0
    segs = out.norm_to_clean.segments
    assert segs[0][0] == 0 and segs[-1][1] == len(norm) and segs[-1][3] == len(clean)
    for (d0, d1, s0, s1), nxt in zip(segs, [*segs[1:], None], strict=True):
        if nxt is not None:
            assert d1 == nxt[0] and s1 == nxt[2]
        replaced = [e for e in out.edits if e.applied and (e.clean_start, e.clean_end) == (s0, s1)]
        if replaced:
            assert norm[d0:d1] == replaced[0].replacement
        else:
            assert norm[d0:d1] == clean[s0:s1]
    assert out.norm_to_clean.to_source(0, len(norm)) == (0, len(clean))


def test_clean_documents_pass_through_unchanged() -> None:
    docs = [raw_document(p) for p in SEED_CLEAN]
    for d, out in zip(docs, repair_documents(docs, [], DespinSettings()), strict=True):
        assert not out.is_spun
        assert out.normalized_text == d.clean_text
        assert out.edits == ()
        assert out.norm_to_clean == records.OffsetMap.identity(len(d.clean_text))


def test_clean_seeds_survive_forced_repair() -> None:
    """Even with detection switched off, the clean seeds get at most one change each."""
    for p in SEED_CLEAN:
        out = repair_documents([raw_document(p)], [], FORCED)[0]
        assert sum(e.applied for e in out.edits) <= 1, [(e.original, e.replacement) for e in out.edits]


def _seed_repair() -> tuple[records.CleanDocument, records.RepairedDocument]:
    docs = [raw_document(SEED_SPUN), *(raw_document(p) for p in SEED_CLEAN)]
    return docs[0], repair_documents(docs, [], DespinSettings())[0]


def test_seed_001_against_hand_gold() -> None:
    doc, out = _seed_repair()
    gold = load_gold(CASES / "gold_001.tsv", doc.clean_text)
    s = score(doc.clean_text, gold, out.edits, ("word", "case"))
    assert out.is_spun
    assert s.recall >= 0.75, s.recall
    assert s.false_edits <= 3, [(e.original, e.replacement, e.rule) for e in s.wrong]
    assert "met Emily Blunt through a friend" in out.normalized_text
    _check_offsets(out)


def test_seed_001_repair_is_idempotent_and_fast() -> None:
    doc, out = _seed_repair()
    t0 = time.perf_counter()
    again = repair_text(out.normalized_text, [], DespinSettings())
    assert time.perf_counter() - t0 < 1.0
    assert not again.is_spun and again.normalized_text == out.normalized_text
    forced = repair_text(out.normalized_text, [], FORCED)
    assert sum(e.applied for e in forced.edits) <= 2, [(e.original, e.replacement) for e in forced.edits]


def test_suggestions_are_logged_not_applied() -> None:
    strict = DespinSettings(spun_threshold=0.0, apply_confidence=0.99)
    out = repair_text("Jenna Fischer and also John Krasinski space happily married.", [], strict)
    assert out.edits and not any(e.applied for e in out.edits)
    assert out.normalized_text == out.clean.clean_text


_ALPHABET = st.sampled_from(
    ["and", "also", "v", "ns", "~", "above", "top", "the", "girlfriend", "John", "john", "Krasinski", "space", "are",
     '"', "“", "”", "‘", "’", "'", "s", ".", ",", "?", "\n", "\n\n", " ", "  ", "\u00a0", "frifinish", "each",
     "various", "other", "Man", "Emily", "dull", "to", "be", "é", "1", "-", "it", "is", "in"]
)


@hsettings(max_examples=60, deadline=None)
@given(st.lists(_ALPHABET, max_size=60), st.lists(_ALPHABET, max_size=20))
def test_never_crashes_and_offsets_stay_valid(parts: list[str], ref_parts: list[str]) -> None:
    text = " ".join(parts)
    out = repair_text(text, [" ".join(ref_parts)], FORCED)
    _check_offsets(out)
    again = repair_text(out.normalized_text, [" ".join(ref_parts)], FORCED)
    _check_offsets(again)


def test_precomputed_spin_scores_give_the_same_repair() -> None:
    from flows.despin.detect import score_spin

    docs = [raw_document(SEED_SPUN), *(raw_document(p) for p in SEED_CLEAN)]
    settings = DespinSettings()
    plain = repair_documents(docs, [], settings)
    given_scores = repair_documents(docs, [], settings, spin=[score_spin(d.clean_text, settings) for d in docs])
    assert [r.normalized_text for r in given_scores] == [r.normalized_text for r in plain]
    assert [r.sentences for r in given_scores] == [r.sentences for r in plain]
    assert [r.is_spun for r in plain] == [True, False, False]
