"""Golden cases as data: the seed done-whens of issue 4 (through clean and despin, as the pipeline runs)
and made-up articles on other subjects, each with claims that must and must not be extracted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.extract.run import extract_documents
from flows.records import Claim
from flows.settings import Settings
from tests.extract.helpers import plain_document, repaired_folder

CASES = Path(__file__).resolve().parent.parent / "cases" / "extract"
RAW = Path(__file__).resolve().parent.parent.parent / "raw"
SEEDS = json.loads((CASES / "seeds.json").read_text(encoding="utf-8"))
GENERIC = json.loads((CASES / "generic.json").read_text(encoding="utf-8"))["cases"]


def matches(claim: Claim, want: dict) -> bool:
    """True when the claim has every field of ``want`` ('doc' is a doc_id prefix, '*_contains' a substring)."""
    for key, value in want.items():
        if key == "doc":
            if not claim.doc_id.startswith(value):
                return False
        elif key.endswith("_contains"):
            got = getattr(claim, key.removesuffix("_contains"))
            if got is None or value not in got:
                return False
        elif getattr(claim, key) != value:
            return False
    return True


def _show(claims: list[Claim]) -> str:
    return "\n".join(
        f"{c.doc_id[:3]} {c.kind} {c.predicate} s={c.subject} o={c.object} q={(c.quote_text or '')[:40]!r} "
        f"v={c.venue} out={c.outlet} p={c.place} t={c.time_value} m={c.modality} {c.extractor}"
        for c in claims
    )


@pytest.fixture(scope="module")
def seed_claims() -> list[Claim]:
    settings = Settings()
    docs = repaired_folder(RAW, settings)
    return [c for e in extract_documents(docs, settings.extract) for c in e.claims]


@pytest.mark.parametrize("want", SEEDS["with"], ids=lambda w: f"{w.get('doc', '')}-{w.get('predicate', w.get('kind'))}-{w.get('subject', '')}")
def test_seed_claim_is_found(seed_claims, want):
    assert any(matches(c, want) for c in seed_claims), f"missing {want}\n{_show(seed_claims)}"


@pytest.mark.parametrize("want", SEEDS["without"], ids=lambda w: f"{w.get('doc', '')}-{w.get('predicate', w.get('kind'))}-{w.get('subject', '')}")
def test_seed_claim_is_not_made(seed_claims, want):
    bad = [c for c in seed_claims if matches(c, want)]
    assert not bad, f"unwanted {want}\n{_show(bad)}"


@pytest.fixture(scope="module")
def generic_claims() -> dict[str, list[Claim]]:
    docs = [plain_document(case["id"], case["text"]) for case in GENERIC]
    return {e.doc_id: list(e.claims) for e in extract_documents(docs, Settings().extract)}


@pytest.mark.parametrize("case", GENERIC, ids=lambda c: c["id"])
def test_generic_case(generic_claims, case):
    claims = generic_claims[case["id"]]
    missing = [w for w in case["with"] if not any(matches(c, w) for c in claims)]
    unwanted = [(w, [c for c in claims if matches(c, w)]) for w in case["without"]]
    unwanted = [(w, cs) for w, cs in unwanted if cs]
    assert not missing and not unwanted, f"missing {missing}\nunwanted {unwanted}\nall:\n{_show(claims)}"
