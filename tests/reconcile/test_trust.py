"""Source trust: copies and spun copies are found and count less; independent sources keep full weight."""

from __future__ import annotations

import random

from flows.reconcile import trust as trust_module
from flows.reconcile.trust import CopyPair, copy_trust, source_trust
from flows.settings import ReconcileSettings
from tests.reconcile.cases import load_case

SETTINGS = ReconcileSettings()
rnd = random.Random(3)
VOCAB = [f"word{i}" for i in range(3000)]


def _article(n: int) -> str:
    return " ".join(rnd.choice(VOCAB) for _ in range(n))


ORIGINAL = _article(600)
INDEPENDENT = _article(600)


def _spin(text: str, share: float) -> str:
    """Swap a share of the words for others, as an article spinner does with synonyms."""
    r = random.Random(11)
    return " ".join("syn" + t if r.random() < share else t for t in text.split())


def test_a_verbatim_copy_is_found_and_discounted() -> None:
    texts = {"orig": ORIGINAL, "copy": ORIGINAL[:3000] + " " + _article(50), "indep": INDEPENDENT}
    trust, pairs = source_trust(texts, {}, SETTINGS)
    assert [(p.doc_a, p.doc_b) for p in pairs] == [("copy", "orig")]
    assert pairs[0].shared_ratio > 0.5 and "shingles shared" in pairs[0].evidence
    assert trust["orig"] == 1.0 and trust["indep"] == 1.0
    assert trust["copy"] < 0.6


def test_a_spun_copy_is_found_through_its_spin_score() -> None:
    spun = _spin(ORIGINAL, 0.25)  # a quarter of the words swapped breaks about 3 in 4 five-word shingles
    texts = {"orig": ORIGINAL, "spun": spun, "indep": INDEPENDENT}
    _, unspun_pairs = source_trust(texts, {}, SETTINGS)
    trust, pairs = source_trust(texts, {"spun": 0.8}, SETTINGS)
    assert not unspun_pairs  # without the spin score the few surviving shingles are not enough
    assert [(p.doc_a, p.doc_b) for p in pairs] == [("spun", "orig")]
    assert "spun copy" in pairs[0].evidence
    assert trust["spun"] < trust["orig"] and trust["spun"] < 0.6


def test_a_spun_original_text_alone_only_loses_its_spin_share() -> None:
    trust, pairs = source_trust({"a": ORIGINAL, "b": INDEPENDENT}, {"a": 0.8}, SETTINGS)
    assert pairs == []
    assert trust["a"] == 1.0 - SETTINGS.spin_penalty * 0.8 and trust["b"] == 1.0


def test_boilerplate_shared_by_many_documents_is_not_copying() -> None:
    footer = "read more stories like this one in our daily newsletter sign up today it is free"
    texts = {f"d{i}": _article(100) + " " + footer for i in range(SETTINGS.max_shingle_docs + 5)}
    _, pairs = source_trust(texts, {}, SETTINGS)
    assert pairs == []


def test_seed_articles_are_independent_and_the_spun_one_weighs_less() -> None:
    case, _, texts = load_case("seeds.json")
    spins = {d: m["spin_score"] for d, m in case["docs"].items()}
    trust, pairs = source_trust(texts, spins, SETTINGS)
    assert pairs == []
    assert trust["001_dda66812b07d539f"] < trust["000_8886242603610b56"] <= 1.0


def test_streamed_texts_in_any_order_give_the_same_trust_and_evidence(monkeypatch) -> None:
    """copy_trust reads texts once, in whatever order a cursor gives them, and fetches the copies' texts
    a chunk at a time for the evidence: neither may change a weight, a pair or its quoted passage."""
    texts = {"orig": ORIGINAL, "indep": INDEPENDENT}
    for k in range(5):
        texts[f"copy{k}"] = ORIGINAL[: 2000 + 300 * k] + " " + _article(40)
    spins = {"copy1": 0.7}
    expected = source_trust(texts, spins, SETTINGS)
    assert len(expected[1]) >= 5  # several copies, so the chunks below really split them
    asked: list[list[str]] = []

    def texts_of(ids):
        asked.append(list(ids))
        return {d: texts[d] for d in ids}

    monkeypatch.setattr(trust_module, "_EXAMPLE_TEXTS", 2)
    streamed = copy_trust(reversed(list(texts.items())), texts_of, spins, SETTINGS)
    assert streamed == expected
    assert all(len(ids) <= 2 for ids in asked) and len(asked) >= 3


def test_copy_pair_is_a_frozen_record() -> None:
    p = CopyPair("a", "b", 0.5, "e")
    try:
        p.doc_a = "c"  # type: ignore[misc]
    except AttributeError:
        return
    raise AssertionError("CopyPair must be frozen")


def test_trust_from_shingles_stored_at_load_equals_trust_from_the_texts(tmp_path) -> None:
    """Two documents loaded with their shingles, one without (as an older version loaded it): the
    pipeline's trust stage reads the stored ones, shingles the other (and stores its shingles), and
    finds what the texts give, then and in the next run."""
    from functools import partial
    from pathlib import Path

    from flows import warehouse as wh
    from flows.pipeline import trust_task
    from flows.rows import batch_rows
    from flows.settings import Settings
    from tests.extract.helpers import repaired_folder

    settings = Settings()
    docs = repaired_folder(Path(__file__).resolve().parents[2] / "raw", settings)
    assert len(docs) == 3
    with wh.connect(tmp_path / "w.duckdb") as con:
        wh.start_run(con, "r", "raw", "local")
        wh.load_rows(con, "r", batch_rows(docs[:2], [], settings.reconcile))
        wh.load_batch(con, "r", docs[2:], [])
        assert con.execute("SELECT count(*) FROM doc_shingles").fetchone()[0] == 2
        stored = trust_task.fn(con, settings)
        fresh = copy_trust(wh.stream_texts(con), partial(wh.texts_of, con), wh.spin_scores(con), settings.reconcile)
        assert con.execute("SELECT count(*) FROM doc_shingles").fetchone()[0] == 3, "the third is stored for next time"
        again = trust_task.fn(con, settings)
        # a damaged row (arrays cut short) is shingled again from the text and replaced, not read
        con.execute("UPDATE doc_shingles SET hashes = hashes[1:5] WHERE doc_id = ?", [docs[0].doc_id])
        mended = trust_task.fn(con, settings)
        assert con.execute("SELECT count(*) FROM doc_shingles WHERE octet_length(hashes) = octet_length(positions)").fetchone()[0] == 3
    assert stored == fresh == again == mended
    assert stored[1], "the seeds' spun copy is found"
