"""Detection: spin scores separate the spun seed from clean text; signals name their evidence."""

from __future__ import annotations

import pytest

from flows.despin.detect import load_table, score_spin, signals, tokenize
from flows.errors import RuleError
from flows.settings import DespinSettings
from tests.despin.gold import RAW

S = DespinSettings()


def test_spun_seed_scores_high_and_clean_seeds_low() -> None:
    spun, _ = score_spin((RAW / "001_dda66812b07d539f.txt").read_text(), S)
    assert spun >= S.spun_threshold
    for name in ("000_8886242603610b56", "003_0a0e6922e87f18a4"):
        clean, _ = score_spin((RAW / f"{name}.txt").read_text(), S)
        assert clean < S.spun_threshold


def test_sentence_signals_name_the_evidence() -> None:
    text = 'Did john Krasinski date? John Krasinski and Jenna supported each various other. It was everyone"s pick.'
    score, sentences = score_spin(text, S)
    labels = [sig for s in sentences for sig in s.signals]
    assert "signature:pad-each-various-other" in labels
    assert "apostrophe:apostrophe" in labels
    assert "case:john" in labels
    assert all(0.0 <= s.score <= 1.0 for s in sentences) and 0.0 <= score <= 1.0


def test_plain_english_raises_no_signal() -> None:
    text = "He is a native of Ohio. We rented office space downtown, and the castle was built in 1200."
    _tokens, _sentences, _matches, sig = signals(text, S)
    assert sig == []


def test_nonwords_are_signals() -> None:
    _t, _s, _m, sig = signals("My best frifinish said tbelow was nothing.", S)
    assert {s.label for s in sig if s.kind == "nonword"} == {"frifinish", "tbelow"}


def test_tokens_fold_damaged_apostrophes_and_track_quotes() -> None:
    tokens, sentences = tokenize('She said, "they weren"t there." Then left.')
    low = [t.lower for t in tokens if t.is_word]
    assert "weren't" in low
    inside = {t.lower for t in tokens if t.in_quote and t.is_word}
    assert inside == {"they", "weren't", "there"}
    assert len(sentences) == 2


def test_table_entries_have_provenance_and_examples() -> None:
    table = load_table(S.substitutions, S.wordclasses)
    assert len(table.entries) > 50
    for e in table.entries:
        assert e.source and e.example and 0.0 < e.prior <= 1.0 and e.replacements


def test_malformed_table_is_a_rule_error(tmp_path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tgarbled\treplacement\tcondition\tprior\tsignature\tfamily\tsource\texample\n"
                   "x\tfoo\tbar\tnext=@NOPE\t0.5\t0\troundtrip\ttest\tfoo\n")
    with pytest.raises(RuleError):
        load_table(str(bad), S.wordclasses)
