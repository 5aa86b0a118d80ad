"""Golden cases: hand-written claims (tests/cases/reconcile/*.json) and the verdicts that must / must not follow."""

from __future__ import annotations

import pytest

from flows.reconcile.compare import compare_groups
from flows.reconcile.group import group_claims
from flows.reconcile.trust import source_trust
from flows.records import Verdict
from flows.settings import ReconcileSettings
from tests.reconcile.cases import CASES, load_case

SETTINGS = ReconcileSettings()
CASE_FILES = sorted(p.name for p in CASES.glob("*.json"))


def _run(name: str) -> tuple[dict, list[tuple[Verdict, str, set[str]]]]:
    case, claims, texts = load_case(name)
    spins = {d: meta.get("spin_score", 0.0) for d, meta in case["docs"].items()}
    trust, _ = source_trust(texts, spins, SETTINGS)
    groups = group_claims(claims, SETTINGS)
    by_key = {g.group_key: g for g in groups}
    docs_of = {c.claim_id: c.doc_id for c in claims}
    verdicts = compare_groups(groups, trust, SETTINGS)
    return case, [(v, by_key[v.group_key].label, {docs_of[cid] for cid in v.claim_ids}) for v in verdicts]


def _aspect(v: Verdict) -> str:
    return v.summary.split(" | ", 1)[1].split(" ", 1)[0]


def _matches(exp: dict, v: Verdict, label: str, docs: set[str]) -> bool:
    verdicts = exp.get("verdict")
    if isinstance(verdicts, str):
        verdicts = [verdicts]
    contains = exp.get("summary_contains", [])
    if isinstance(contains, str):
        contains = [contains]
    return (
        ("aspect" not in exp or _aspect(v) == exp["aspect"])
        and (verdicts is None or v.verdict in verdicts)
        and ("severity" not in exp or v.severity == exp["severity"])
        and exp.get("label_contains", "") in label
        and set(exp.get("docs", [])) <= docs
        and all(s in v.summary for s in contains)
        and exp.get("explanation_contains", "") in v.explanation
    )


@pytest.mark.parametrize("name", CASE_FILES)
def test_expected_verdicts_are_found(name: str) -> None:
    case, results = _run(name)
    for exp in case["with"]:
        found = [v for v, label, docs in results if _matches(exp, v, label, docs)]
        assert found, f"{name}: expected {exp['why']!r}: {exp}; got:\n" + "\n".join(
            f"{v.verdict}/{v.severity}: {v.summary} :: {v.explanation}" for v, _, _ in results
        )


@pytest.mark.parametrize("name", CASE_FILES)
def test_forbidden_verdicts_are_absent(name: str) -> None:
    case, results = _run(name)
    for exp in case["without"]:
        bad = [v for v, label, docs in results if _matches(exp, v, label, docs)]
        assert not bad, f"{name}: must not find {exp['why']!r}: {[v.summary for v in bad]}"


def test_seed_remark_dating_is_a_conflict_with_evidence_from_both_documents() -> None:
    _, results = _run("seeds.json")
    remark = [(v, docs) for v, label, docs in results if _aspect(v) == "time" and "Jenna Fischer — said" in label]
    assert len(remark) == 1
    v, docs = remark[0]
    assert v.verdict == "conflict" and v.severity in ("medium", "high")
    assert {"000_8886242603610b56", "003_0a0e6922e87f18a4"} <= docs
    assert "January 2016" in v.explanation
    # every position is kept: the remark report, both pieces of the quoted statement (each carries the
    # time in this case) and the 2016 quote
    assert len(v.positions) == 4 and set(v.positions) == set(v.claim_ids)


def test_every_verdict_names_its_sources_and_keeps_every_position() -> None:
    for name in CASE_FILES:
        _, results = _run(name)
        assert results
        for v, _label, docs in results:
            assert v.verdict in ("agree", "compatible", "conflict")
            assert (v.severity == "none") == (v.verdict != "conflict") or v.verdict == "compatible"
            assert all(d in v.summary for d in docs), v.summary
            assert set(v.positions) == set(v.claim_ids) and len(v.claim_ids) >= 2
            assert v.confidence is None or 0.0 <= v.confidence <= 1.0
