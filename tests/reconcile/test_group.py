"""Grouping: blocking and matching, remark joining, and stable content-derived keys."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.reconcile.compare import compare_groups
from flows.reconcile.group import cluster_names, cluster_similar_names, group_claims
from flows.records import Claim
from flows.settings import ReconcileSettings
from tests.reconcile.cases import load_case

SETTINGS = ReconcileSettings()
_, SEED_CLAIMS, _ = load_case("seeds.json")
_, GENERIC_CLAIMS, _ = load_case("generic.json")
ALL = SEED_CLAIMS + GENERIC_CLAIMS


def _q(cid: str, doc: str, speaker: str, text: str | None, start: int | None = None, **kw: object) -> Claim:
    # unless a test places it, each claim stands far from every other (quotes close together are one statement)
    at = start if start is not None else 10_000 * sum(map(ord, cid))
    end = at + len(text or "x")
    return Claim(claim_id=cid, doc_id=doc, kind="quote", subject=speaker, predicate="remarked" if text is None else "said",
                 object=None, sentence=text or "", start=at, end=end, raw_start=at, raw_end=end, extractor="test",
                 confidence=1.0, quote_text=text, **kw)  # type: ignore[arg-type]


def _signature(claims: list[Claim]) -> tuple:
    groups = group_claims(claims, SETTINGS)
    verdicts = compare_groups(groups, {}, SETTINGS)
    return (
        sorted((g.group_key, tuple(c.claim_id for c in g.claims)) for g in groups),
        sorted((v.conflict_id, v.verdict, v.likely_value) for v in verdicts),
    )


BASELINE = _signature(ALL)


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_keys_and_verdicts_do_not_depend_on_claim_order(rnd: random.Random) -> None:
    shuffled = list(ALL)
    rnd.shuffle(shuffled)
    assert _signature(shuffled) == BASELINE


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_duplicated_claims_change_nothing(rnd: random.Random) -> None:
    extra = rnd.sample(ALL, k=5)
    assert _signature(ALL + extra) == BASELINE


def test_group_keys_come_from_content_not_ids() -> None:
    """Re-ingesting under new doc ids and claim ids keeps every group key (reviews attach to it)."""
    renamed = [dataclasses.replace(c, claim_id="x" + c.claim_id[::-1], doc_id="re-" + c.doc_id) for c in ALL]
    before = sorted(g.group_key for g in group_claims(ALL, SETTINGS))
    after = sorted(g.group_key for g in group_claims(renamed, SETTINGS))
    assert before == after and before


def test_a_new_source_keeps_the_existing_keys() -> None:
    before = {g.group_key for g in group_claims(SEED_CLAIMS, SETTINGS)}
    extra = _q("n1", "new-doc", "Jenna Fischer", "those parts of us were genuinely in love with one another")
    after = group_claims([*SEED_CLAIMS, extra], SETTINGS)
    assert before == {g.group_key for g in after}
    assert any(extra in g.claims for g in after)


def test_remark_joins_the_quote_group_of_the_same_venue() -> None:
    a = _q("a", "d1", "Ann Vale", "the harvest was the best we have ever had in this valley", venue="Morning Show")
    b = _q("b", "d2", "Ann Vale", "best harvest we have ever had in this valley", venue="Morning Show")
    other = _q("c", "d1", "Ann Vale", "taxes on grain should fall next spring for every farmer", venue="Radio Hour")
    other2 = _q("d", "d3", "Ann Vale", "taxes on grain should fall next spring", venue="Radio Hour")
    remark = _q("r", "d3", "Ann Vale", None, venue="Morning Show")
    groups = group_claims([a, b, other, other2, remark], SETTINGS)
    holding = [g for g in groups if remark in g.claims]
    assert len(holding) == 1 and a in holding[0].claims and other not in holding[0].claims
    assert "remark:same-venue" in holding[0].rule


def test_remark_without_venue_or_time_joins_only_an_unambiguous_group() -> None:
    a = _q("a", "d1", "Ann Vale", "the harvest was the best we have ever had in this valley")
    b = _q("b", "d2", "Ann Vale", "best harvest we have ever had in this valley")
    remark = _q("r", "d3", "Ann Vale", None)
    only = group_claims([a, b, remark], SETTINGS)
    assert any(remark in g.claims and "remark:only-quote-group-of-speaker" in g.rule for g in only)
    c = _q("c", "d1", "Ann Vale", "taxes on grain should fall next spring for every farmer")
    d = _q("d", "d2", "Ann Vale", "taxes on grain should fall next spring")
    ambiguous = group_claims([a, b, c, d, remark], SETTINGS)
    assert not any(remark in g.claims for g in ambiguous)


def test_pieces_of_one_statement_join_and_carry_its_time_to_the_other_sources() -> None:
    """'"A," she said on the show. "B."': B alone is quoted elsewhere, A alone carries the time."""
    a = _q("a", "d1", "Ann Vale", "we planted early this spring", start=100, venue="Morning Show", time_value="XXXX-03",
           time_anchored=False)
    b = _q("b", "d1", "Ann Vale", "the harvest was the best we have ever had in this valley", start=170,
           venue="Morning Show")
    c = _q("c", "d2", "Ann Vale", "the best harvest we have ever had in this valley", time_value="2019")
    groups = group_claims([a, b, c], SETTINGS)
    assert len(groups) == 1 and {a, b, c} <= set(groups[0].claims) and "fragment" in groups[0].rule
    verdicts = {v.kind: v for v in compare_groups(groups, {}, SETTINGS)}
    assert verdicts["time"].verdict == "conflict" and "March 2019" in verdicts["time"].explanation
    # the piece only d1 quotes is no wording difference
    assert verdicts["quote"].verdict == "conflict" and verdicts["quote"].severity == "low"
    assert "planted" not in verdicts["quote"].explanation.split("parts of the statement")[0]


def test_quotes_far_apart_or_in_different_acts_are_not_pieces_of_one_statement() -> None:
    a = _q("a", "d1", "Ann Vale", "we planted early this spring", start=100)
    far = _q("b", "d1", "Ann Vale", "the harvest was the best we have ever had", start=100 + 30 + 500)
    assert group_claims([a, far], SETTINGS) == []
    wrote = dataclasses.replace(_q("w", "d1", "Ann Vale", "the harvest was the best we have ever had", start=140),
                                predicate="wrote")
    assert group_claims([a, wrote], SETTINGS) == []


def test_remark_joins_the_statement_quoted_right_after_it() -> None:
    """'In March, Vale's comments made headlines. "A," she said.' The report belongs to that statement."""
    remark = _q("r", "d1", "Ann Vale", None, start=10, time_value="XXXX-03", time_anchored=False)
    a = _q("a", "d1", "Ann Vale", "the harvest was the best we have ever had in this valley", start=200)
    b = _q("b", "d2", "Ann Vale", "best harvest we have ever had in this valley", time_value="2019")
    other = _q("c", "d1", "Ann Vale", "taxes on grain should fall next spring for every farmer", start=5000)
    other2 = _q("d", "d2", "Ann Vale", "taxes on grain should fall next spring")
    groups = group_claims([remark, a, b, other, other2], SETTINGS)
    holding = [g for g in groups if remark in g.claims]
    assert len(holding) == 1 and a in holding[0].claims and other not in holding[0].claims
    assert "remark:next-quote-of-speaker" in holding[0].rule


def test_different_speakers_do_not_merge_on_a_shared_phrase() -> None:
    a = _q("a", "d1", "Ann Vale", "we were genuinely in love with the valley and its people")
    b = _q("b", "d2", "Bo Lind", "she said we were genuinely in love, which was taken out of context")
    assert group_claims([a, b], SETTINGS) == []


def test_same_words_from_different_speakers_form_one_group_with_a_speaker_conflict() -> None:
    text = "the committee will publish every single invoice from the reconstruction fund next week"
    a = _q("a", "d1", "Ann Vale", text)
    b = _q("b", "d2", "Bo Lind", text)
    groups = group_claims([a, b], SETTINGS)
    assert len(groups) == 1 and "rare-ngram" in groups[0].rule
    kinds = {v.kind: v.verdict for v in compare_groups(groups, {}, SETTINGS)}
    assert kinds["person"] == "conflict" and kinds["quote"] == "agree"


def test_name_clustering_joins_a_short_name_only_when_unambiguous() -> None:
    assert cluster_names(["emily", "emily blunt"]) == {"emily": "emily blunt", "emily blunt": "emily blunt"}
    assert cluster_names(["emily", "emily blunt", "emily stone"])["emily"] == "emily"
    pair = cluster_names(["jim and pam", "jim halpert pam beesly", "pam"], frozenset({"and"}))
    assert pair["jim and pam"] == "jim halpert pam beesly" and pair["pam"] == "jim halpert pam beesly"
    reps = cluster_similar_names(["watch what happens live", "watch", "watch what wake up live"], 0.5)
    assert len(set(reps.values())) == 1


def test_blocking_is_not_all_pairs() -> None:
    """Thousands of unrelated quotes group in well under a second: pairs are formed only inside blocks."""
    import time

    rnd = random.Random(7)
    vocab = [f"w{i}" for i in range(5000)]
    claims = [_q(f"c{i}", f"d{i}", f"speaker {i % 500}", " ".join(rnd.choice(vocab) for _ in range(12))) for i in range(4000)]
    # CPU time, not wall: the check is about the algorithm, not about what else the machine runs
    t0 = time.process_time()
    groups = group_claims(claims, SETTINGS)
    assert time.process_time() - t0 < 2.0
    assert groups == []


def test_two_sentences_sharing_only_common_words_are_not_two_wordings() -> None:
    a = _q("a", "d1", "Ann Vale", "She captured the imagination of a generation of farmers in the valley")
    b = _q("b", "d1", "Ann Vale", "She is the embodiment of the valley", start=a.end + 5)
    c = _q("c", "d2", "Ann Vale", "She captured the imagination of a generation of farmers")
    groups = group_claims([a, b, c], SETTINGS)
    quote = [v for v in compare_groups(groups, {}, SETTINGS) if v.kind == "quote"]
    assert len(quote) == 1 and quote[0].verdict == "compatible", quote
    assert "embodiment" not in quote[0].explanation


def test_closed_and_open_compounds_are_spelling_variants() -> None:
    a = _q("a", "d1", "Ann Vale", "the new datacenter doubles our capacity for rural hospitals")
    b = _q("b", "d2", "Ann Vale", "the new data center doubles our capacity for rural hospitals")
    quote = [v for v in compare_groups(group_claims([a, b], SETTINGS), {}, SETTINGS) if v.kind == "quote"]
    assert quote[0].verdict == "conflict" and quote[0].severity == "low"
    assert "'datacenter' → 'data center' (spelling/paraphrase variant)" in quote[0].explanation


def _event(cid: str, doc: str, predicate: str, value: str) -> Claim:
    from flows.reconcile.normalize import parse_timex

    span = parse_timex(value)
    assert span is not None
    return Claim(claim_id=cid, doc_id=doc, kind="event", subject="Bo Lind", predicate=predicate, object=None,
                 sentence="s", start=0, end=1, raw_start=0, raw_end=1, extractor="test", confidence=1.0,
                 time_value=value, time_start=span.start, time_end=span.end, time_anchored=True)


def test_a_recurring_event_with_dates_far_apart_is_two_events_not_a_conflict() -> None:
    claims = [_event("a", "d1", "fired", "2004-06-08"), _event("b", "d2", "fired", "2005-05-23"),
              _event("c", "d3", "fired", "2005-05-23")]
    groups = group_claims(claims, SETTINGS)
    times = [v for v in compare_groups(groups, {}, SETTINGS) if v.kind == "time"]
    # the 2005 firing is one event both sources date alike; the 2004 one stands alone (no group of one)
    assert [v.verdict for v in times] == ["agree"]
    assert [sorted(c.claim_id for c in g.claims) for g in groups] == [["b", "c"]]


def test_close_dates_of_a_recurring_event_and_any_dates_of_a_one_time_event_still_conflict() -> None:
    close = [_event("a", "d1", "fired", "2004"), _event("b", "d2", "fired", "2005")]
    once = [_event("c", "d1", "died", "2004-06-08"), _event("d", "d2", "died", "2009-05-23")]
    verdicts = compare_groups(group_claims(close + once, SETTINGS), {}, SETTINGS)
    assert sorted(v.verdict for v in verdicts if v.kind == "time") == ["conflict", "conflict"]


def test_moves_to_different_places_are_different_moves_but_births_in_two_places_conflict() -> None:
    def ev(cid: str, doc: str, predicate: str, place: str) -> Claim:
        return Claim(claim_id=cid, doc_id=doc, kind="event", subject="Bo Lind", predicate=predicate, object=None,
                     sentence="s", start=0, end=1, raw_start=0, raw_end=1, extractor="test", confidence=1.0,
                     place=place)

    claims = [ev("a", "d1", "moved_to", "Florida"), ev("b", "d2", "moved_to", "San Francisco"),
              ev("c", "d3", "moved_to", "Florida"), ev("d", "d1", "born", "Boston"), ev("e", "d2", "born", "Paris")]
    verdicts = compare_groups(group_claims(claims, SETTINGS), {}, SETTINGS)
    places = {v.summary.split(" | ")[0]: v.verdict for v in verdicts if v.kind == "place"}
    assert places == {"Bo Lind — moved_to — Florida": "agree", "Bo Lind — born": "conflict"}, places


def test_quote_summary_names_only_the_renderings_in_dispute() -> None:
    a = _q("a", "d1", "Ann Vale", "the new bridge will carry twelve thousand cars every single day", start=100)
    c = _q("c", "d1", "Ann Vale", "we expect the first lanes to open before the winter storms arrive", start=170)
    b = _q("b", "d2", "Ann Vale", "the new bridge will carry ten thousand cars every single day")
    groups = group_claims([a, b, c], SETTINGS)
    quote = [v for v in compare_groups(groups, {}, SETTINGS) if v.kind == "quote"]
    assert len(quote) == 1 and set(quote[0].claim_ids) == {"a", "b", "c"}, quote
    assert quote[0].verdict == "conflict"
    summary = quote[0].summary
    assert "twelve" in summary and "ten thousand" in summary, summary
    assert "winter storms" not in summary and "(+1 more, not in dispute)" in summary, summary


def test_group_fingerprints_change_with_every_input_of_the_comparison() -> None:
    from flows.reconcile.compare import group_fingerprints

    a = _q("a", "d1", "Ann Vale", "the new bridge will carry twelve thousand cars every single day")
    b = _q("b", "d2", "Ann Vale", "the new bridge will carry ten thousand cars every single day")
    groups = group_claims([a, b], SETTINGS)
    base = group_fingerprints(groups, {"d1": 1.0, "d2": 1.0}, SETTINGS)
    assert base == group_fingerprints(group_claims([b, a], SETTINGS), {"d2": 1.0, "d1": 1.0}, SETTINGS)
    assert base != group_fingerprints(groups, {"d1": 1.0, "d2": 0.5}, SETTINGS), "a trust weight"
    assert base != group_fingerprints(groups, {"d1": 1.0, "d2": 1.0}, dataclasses.replace(SETTINGS, quote_medium_diff_ratio=0.9)), "a setting"
    moved = dataclasses.replace(b, confidence=0.5)
    assert base != group_fingerprints(group_claims([a, moved], SETTINGS), {"d1": 1.0, "d2": 1.0}, SETTINGS), "a claim field"


def test_copies_of_a_statement_are_scored_once_however_many_documents_carry_them(monkeypatch) -> None:
    """Word-for-word copies of a statement are one node: the pairs scored do not grow with the copies."""
    import flows.reconcile.group as group

    scored: list[int] = []
    real = group._pair_scores
    monkeypatch.setattr(group, "_pair_scores", lambda nodes, first, *a: scored.append(len(first)) or real(nodes, first, *a))
    said = "the harbour bridge will close for repairs next spring, the council decided"
    reworded = "the harbour bridge will shut for repairs next spring, the council decided"
    claims = [_q(f"c{i}", f"d{i}", "Ann Lee", said if i % 2 else reworded) for i in range(300)]
    groups = group_claims(claims, SETTINGS)
    assert [len(g.claims) for g in groups] == [300]
    assert max(scored) <= 2  # the two wordings with themselves, then with each other: not 300 copies' pairs


def test_a_text_too_short_to_match_itself_does_not_join_its_copies() -> None:
    """Copies become one node only when the text would match itself; a one-word quote stays apart."""
    from flows.reconcile.group import _prepare_quotes, _statements
    from flows.reconcile.normalize import load_lexicon

    claims = [_q(f"c{i}", f"d{i}", "Ann Lee", "Absolutely.") for i in range(3)]
    nodes, node_of = _statements(_prepare_quotes(claims, load_lexicon(SETTINGS), SETTINGS), SETTINGS)
    assert [n.quotes for n in nodes] == [[0], [1], [2]] and node_of == [0, 1, 2]
    long = [_q(f"l{i}", f"d{i}", "Ann Lee", "The bridge will close in spring.") for i in range(3)]
    nodes, node_of = _statements(_prepare_quotes(long, load_lexicon(SETTINGS), SETTINGS), SETTINGS)
    assert [n.quotes for n in nodes] == [[0, 1, 2]] and node_of == [0, 0, 0]
