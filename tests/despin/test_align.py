"""Reference analysis: the per-process cache gives what a fresh analysis gives, stays bounded, and a
repair with a warm cache equals one with a cold cache."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from flows.despin import align
from flows.despin.align import Reference
from flows.despin.detect import tokenize
from flows.despin.repair import repair_documents
from flows.settings import DespinSettings
from tests.despin.gold import RAW, raw_document

SEED_SPUN = RAW / "001_dda66812b07d539f.txt"
SEED_CLEAN = (RAW / "000_8886242603610b56.txt", RAW / "003_0a0e6922e87f18a4.txt")

_WORDS = st.sampled_from(
    ["John", "Krasinski", "Emily", "Blunt", "NBC", "the", "said", "director", "“", "”", '"', ",", ".", "\n", " ",
     "Watch", "What", "Happens", "Live", "don’t", "it's", "~", "é", "1"]
)


@hsettings(max_examples=60, deadline=None)
@given(st.lists(_WORDS, max_size=40))
def test_cached_analysis_equals_a_fresh_one(parts: list[str]) -> None:
    text = " ".join(parts)
    fresh = Reference.of("r", text)
    assert Reference.of("r", text, cache_size=4) == fresh
    assert Reference.of("r", text, cache_size=4) == fresh  # the cached copy
    assert Reference.of("r", text, tokenize(text)[0]) == fresh  # from the caller's tokens


def test_cache_stays_within_its_bound() -> None:
    for k in range(10):
        Reference.of(f"r{k}", f"Text number {k} about Emily Blunt.", cache_size=3)
    assert len(align._CACHE) <= 3


def test_warm_cache_repairs_like_a_cold_one() -> None:
    settings = DespinSettings()
    spun = [raw_document(SEED_SPUN)]
    references = [raw_document(p).clean_text for p in SEED_CLEAN]
    align._CACHE.clear()
    cold = repair_documents(spun, references, settings)
    warm = repair_documents(spun, references, settings)
    assert [r.normalized_text for r in warm] == [r.normalized_text for r in cold]
    assert [r.edits for r in warm] == [r.edits for r in cold]
    uncached = repair_documents(spun, references, DespinSettings(reference_cache_size=0))
    assert [r.edits for r in uncached] == [r.edits for r in cold]
