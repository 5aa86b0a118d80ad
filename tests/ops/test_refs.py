"""Reference shipping: a spun document gets the clean texts about its own story, not the whole corpus."""

from __future__ import annotations

from flows.ops.refs import ReferenceIndex, reference_ids, select_references

CLEAN = {
    "a1": "Mayor Tilda Varga opened the Ostrava bridge in 2019 with 300 guests.",
    "a2": "The Ostrava bridge, opened by Tilda Varga, cost 40 million.",
    "b1": "Striker Omar Dekker scored twice as Lyon beat Nantes 3-1 on Sunday.",
    "b2": "Lyon's Omar Dekker hit two goals against Nantes.",
    "c1": "The weather stayed mild across the region on Sunday.",
}


def test_nearest_texts_share_names_and_numbers():
    index = ReferenceIndex(CLEAN)
    spun = "Mayor tilda Varga unveiled the Ostrava crossing in 2019 before 300 visitors."
    assert set(index.nearest(spun, 2)) == {"a1", "a2"}
    assert set(index.nearest("Dekker struck two times for Lyon versus Nantes.", 2)) == {"b1", "b2"}


def test_selection_is_the_union_per_document_and_never_the_document_itself():
    spun = [("a1", CLEAN["a1"]), ("x", "Omar Dekker and Lyon again.")]
    chosen = select_references(spun, CLEAN, per_doc=1)
    assert CLEAN["a1"] not in chosen
    assert CLEAN["a2"] in chosen and len(chosen) == 2


def test_zero_per_doc_ships_every_clean_text():
    assert len(select_references([("x", "anything")], CLEAN, per_doc=0)) == len(CLEAN)


def test_an_index_read_once_from_pairs_ranks_as_one_built_from_a_mapping():
    from_pairs = ReferenceIndex(iter(CLEAN.items()))  # read once, as the pipeline streams the warehouse
    spun = [("x", "Mayor tilda Varga unveiled the Ostrava crossing in 2019.")]
    assert from_pairs.ids == list(CLEAN)
    assert reference_ids(spun, from_pairs, 2) == reference_ids(spun, ReferenceIndex(CLEAN), 2)
    assert set(reference_ids(spun, from_pairs, 2)) == {"a1", "a2"}
