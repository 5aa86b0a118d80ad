"""End to end through Prefect on the seed articles: warehouse rows, idempotent re-runs,
the conflicts the issues name, and reviews that survive re-ingestion.

The seed names appear here as test data only; the pipeline code knows none of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from flows.settings import Settings

pytestmark = pytest.mark.e2e

TABLES = (
    "documents", "document_versions", "boilerplate", "normalization_edits", "spin_sentences", "timexes",
    "entities", "mentions", "claims", "conflicts", "conflict_claims", "reviews", "quarantine", "copies",
)  # fmt: skip


def _counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _seed_folder(raw: Path) -> Path:
    """A copy of the seed articles in a new folder ``raw``."""
    raw.mkdir()
    for p in sorted((Path(__file__).resolve().parent.parent / "raw").glob("*.txt")):
        (raw / p.name).write_bytes(p.read_bytes())
    return raw


def _q(db: Path, sql: str, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.fixture(scope="module")
def seeded(prefect_harness, tmp_path_factory):
    """One pipeline run over a copy of the seeds, shared by the assertions below."""
    from flows.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("e2e")
    raw = _seed_folder(root / "raw")
    db, reports = root / "recon.duckdb", root / "reports"
    summary = run_pipeline(raw, db, reports, Settings())
    return raw, db, reports, summary


def test_first_run_loads_every_seed_and_writes_the_report(seeded):
    raw, db, reports, summary = seeded
    assert summary.processed == 3 and not summary.quarantined
    assert (reports / "conflicts.md").stat().st_size > 0
    assert (reports / "conflicts.html").stat().st_size > 0
    docs = dict(_q(db, "SELECT doc_id, clean_text FROM documents"))
    assert sorted(docs) == sorted(p.name for p in raw.iterdir())
    doc000 = next(t for d, t in docs.items() if d.startswith("000_"))
    assert "Skip to main content" not in doc000 and "Comments are closed" not in doc000
    assert "genuinely in love" in doc000
    rules = {r for (r,) in _q(db, "SELECT DISTINCT rule_id FROM boilerplate")}
    assert {"skip_links", "browser_banner"} <= rules
    assert _q(db, "SELECT count(*) FROM claims")[0][0] > 20
    assert _q(db, "SELECT status FROM runs")[0][0] == "succeeded"


def test_second_run_processes_nothing_and_changes_no_row_count(seeded):
    from flows.pipeline import run_pipeline

    raw, db, reports, _ = seeded
    before = _counts(db)
    again = run_pipeline(raw, db, reports, Settings())
    assert again.processed == 0 and again.skipped == 3
    assert _counts(db) == before


def test_spun_copy_is_repaired_with_an_edit_log(seeded):
    _, db, _, _ = seeded
    rows = dict(_q(db, "SELECT doc_id, is_spun FROM documents"))
    assert [d for d, spun in rows.items() if spun] == [d for d in rows if d.startswith("001_")]
    norm = _q(db, "SELECT normalized_text FROM documents WHERE doc_id LIKE '001_%'")[0][0]
    assert "Emily Blunt" in norm and "Emily dull" not in norm
    n_edits = _q(db, "SELECT count(*) FROM normalization_edits WHERE doc_id LIKE '001_%' AND applied")[0][0]
    assert n_edits > 50
    assert _q(db, "SELECT count(*) FROM normalization_edits WHERE doc_id NOT LIKE '001_%' AND applied")[0][0] <= 2


def test_remark_dating_january_vs_2016_is_a_flagged_conflict(seeded):
    _, db, _, _ = seeded
    rows = _q(
        db,
        """SELECT e.conflict_id, list(DISTINCT left(e.doc_id, 3)), list(e.time_value)
           FROM conflict_evidence e JOIN conflicts c USING (conflict_id)
           WHERE c.verdict = 'conflict' GROUP BY e.conflict_id""",
    )
    hits = [
        r for r in rows
        if {"000", "003"} <= set(r[1]) and any(v and v.endswith("-01") for v in r[2]) and "2016" in r[2]
    ]  # fmt: skip
    assert hits, rows


def test_first_kiss_dundies_vs_casino_night_is_a_flagged_conflict(seeded):
    _, db, _, _ = seeded
    rows = _q(
        db,
        """SELECT c.conflict_id, string_agg(e.position, ' | ') FROM conflicts c JOIN conflict_claims e USING (conflict_id)
           WHERE c.verdict = 'conflict' GROUP BY c.conflict_id""",
    )
    assert any("Dundies" in (p or "") and "Casino Night" in (p or "") for _, p in rows), rows


def test_2010_and_july_2010_marriages_are_not_flagged(seeded):
    _, db, _, _ = seeded
    rows = _q(
        db,
        """SELECT c.verdict, list(DISTINCT cl.time_value) FROM conflicts c
           JOIN conflict_claims cc USING (conflict_id) JOIN claims cl USING (claim_id)
           WHERE cl.predicate = 'married' GROUP BY c.conflict_id, c.verdict""",
    )
    with_both = [v for v, times in rows if "2010" in times and "2010-07" in times]
    assert with_both and all(v in ("agree", "compatible") for v in with_both), rows


def test_review_survives_reingesting_a_changed_article(seeded, tmp_path):
    from flows import warehouse as wh
    from flows.pipeline import run_pipeline

    raw, db, reports, _ = seeded
    conflict_id = _q(db, "SELECT conflict_id FROM conflicts WHERE verdict = 'conflict' ORDER BY conflict_id LIMIT 1")[0][0]
    with wh.connect(db) as con:
        wh.add_review(con, conflict_id, "accept", None, "checked by a test")
    target = next(p for p in raw.iterdir() if p.name.startswith("003_"))
    target.write_text(target.read_text(encoding="utf-8") + "\nThis paragraph was added later.\n", encoding="utf-8")
    again = run_pipeline(raw, db, reports, Settings())
    assert again.processed == 1
    status = _q(db, "SELECT review_decision FROM conflict_status WHERE conflict_id = ?", [conflict_id])
    assert status == [("accept",)]
    assert _q(db, "SELECT count(*) FROM document_versions WHERE doc_id = ?", [target.name])[0][0] == 1
    assert _q(db, "SELECT count(*) FROM documents WHERE doc_id = ?", [target.name])[0][0] == 1


def test_loads_hold_duckdb_to_the_budget_and_a_batch_that_needs_more_still_loads(prefect_harness, tmp_path, monkeypatch):
    """run.duckdb_budget_mb limits DuckDB while loading; a batch over it loads without the limit; same rows."""
    import duckdb

    from flows import warehouse as wh
    from flows.pipeline import run_pipeline

    raw = _seed_folder(tmp_path / "raw")
    one_by_one = Settings().override("run", batch_size=1)  # three loads (entities depend on the batching)
    seen: list[tuple[str, float]] = []  # (memory limit, DuckDB's memory) after each load
    failed: list[int] = []
    load, upsert = wh.load_rows, wh._upsert_entities

    def watched(con, run_id, rows):
        out = load(con, run_id, rows)
        seen.append((con.execute("SELECT current_setting('memory_limit')").fetchone()[0], wh.memory_mb(con)))
        return out

    calls = iter(range(100))

    def out_of_memory_every_other_time(con, entities):  # the last step of a batch: its other rows are in
        if next(calls) % 2 == 0:
            failed.append(1)
            raise duckdb.OutOfMemoryException("could not allocate block of size 256.0 KiB")
        upsert(con, entities)

    monkeypatch.setattr(wh, "load_rows", watched)
    run_pipeline(raw, tmp_path / "default.duckdb", tmp_path / "r1", one_by_one, workers=1)
    budget = one_by_one.run.duckdb_budget_mb
    assert len(seen) == 3 and all(limit == f"{budget}.0 MiB" and mb <= budget for limit, mb in seen), seen
    seen.clear()
    monkeypatch.setattr(wh, "_upsert_entities", out_of_memory_every_other_time)
    summary = run_pipeline(raw, tmp_path / "retried.duckdb", tmp_path / "r2", one_by_one, workers=1)
    assert summary.processed == 3 and len(failed) == 3
    assert [limit for limit, _mb in seen] == [f"{budget}.0 MiB"] * 3, "the limit applies again after a batch over it"
    assert _counts(tmp_path / "retried.duckdb") == _counts(tmp_path / "default.duckdb")
    monkeypatch.setattr(wh, "_upsert_entities", upsert)
    # a budget too small for anything: the limit is refused, or every batch runs out and loads without it
    summary = run_pipeline(raw, tmp_path / "tiny.duckdb", tmp_path / "r3", one_by_one.override("run", duckdb_budget_mb=1),
                           workers=1)
    assert summary.processed == 3
    assert _counts(tmp_path / "tiny.duckdb") == _counts(tmp_path / "default.duckdb")


_OTHER_STORY = {
    "alpha.txt": "Senator Maria Alvarez resigned on March 3, 2019, after a month of pressure from her own party.\n"
    "Alvarez was born in Tucson and raised in Phoenix.\n",
    "beta.txt": "Senator Maria Alvarez resigned on March 4, 2019, her office said.\n"
    "Alvarez was born in Tucson.\n",
}


def _stored_verdicts(db: Path) -> tuple[list, list]:
    return (
        _q(db, "SELECT conflict_id, group_key, kind, verdict, severity, label, rule, summary, explanation, likely_value,"
               " confidence, n_docs, n_claims FROM conflicts ORDER BY ALL"),
        _q(db, "SELECT conflict_id, claim_id, doc_id, position, trust_weight FROM conflict_claims ORDER BY ALL"),
    )  # fmt: skip


def _verdicts_of_stored_claims(db: Path) -> tuple[list, list]:
    """What comparing every group of the warehouse's current claims afresh writes (nothing kept)."""
    from functools import partial

    from flows import warehouse as wh
    from flows.reconcile.compare import compare_groups
    from flows.reconcile.group import group_claims
    from flows.reconcile.trust import copy_trust

    cfg = Settings().reconcile
    with duckdb.connect(str(db), read_only=True) as con:
        claims = wh.all_claims(con)
        trust, copies = copy_trust(wh.stream_texts(con), partial(wh.texts_of, con), wh.spin_scores(con), cfg)
    groups = group_claims(claims, cfg)
    verdicts = compare_groups(groups, trust, cfg)
    with duckdb.connect(":memory:") as mem:
        from flows.warehouse import migrate, replace_conflicts

        migrate(mem)
        replace_conflicts(mem, "fresh", groups, verdicts, trust, copies)
        conflicts = mem.execute(
            "SELECT conflict_id, group_key, kind, verdict, severity, label, rule, summary, explanation, likely_value,"
            " confidence, n_docs, n_claims FROM conflicts ORDER BY ALL"
        ).fetchall()
        members = mem.execute(
            "SELECT conflict_id, claim_id, doc_id, position, trust_weight FROM conflict_claims ORDER BY ALL"
        ).fetchall()
    return conflicts, members


def test_a_change_compares_only_the_groups_it_touches_and_ends_as_a_full_compare(prefect_harness, tmp_path):
    """A new article that joins a compared group, then a changed one: the groups they do not touch keep
    their verdicts (not compared again), and each run ends with exactly the verdicts comparing every
    group of the warehouse's claims afresh gives."""
    from flows.pipeline import run_pipeline

    raw = _seed_folder(tmp_path / "raw")
    for name, text in _OTHER_STORY.items():
        (raw / name).write_text(text, encoding="utf-8")
    db, reports = tmp_path / "w.duckdb", tmp_path / "reports"
    run_pipeline(raw, db, reports, Settings())
    before = _stored_verdicts(db)
    assert any("Alvarez" in (row[5] or "") for row in before[0]), "the other story's groups were compared"

    def rerun() -> tuple[int, int]:
        lines: list[str] = []
        summary = run_pipeline(raw, db, reports, Settings(), progress=lines.append)
        assert summary.processed == 1
        (line,) = [m for m in lines if m.startswith("reconcile:")]
        compared, unchanged = (int(n) for n in re.search(r"\((\d+) compared, (\d+) unchanged\)", line).groups())
        assert _stored_verdicts(db) == _verdicts_of_stored_claims(db)
        assert _q(db, "SELECT count(*) FROM pending_reconcile") == [(0,)]
        return compared, unchanged

    # a new article whose claim joins the group of the two others' resignation dates (no stored row names it)
    (raw / "gamma.txt").write_text("Senator Maria Alvarez resigned on March 5, 2019.\n", encoding="utf-8")
    compared, unchanged = rerun()
    assert compared >= 1 and unchanged >= 1, (compared, unchanged)
    assert any("gamma.txt" in row[7] for row in _stored_verdicts(db)[0]), "the new article joined a compared group"

    (raw / "beta.txt").write_text(_OTHER_STORY["beta.txt"] + "Alvarez was raised in Flagstaff.\n", encoding="utf-8")
    compared, unchanged = rerun()
    assert compared >= 1 and unchanged >= 1, (compared, unchanged)
    assert _stored_verdicts(db) != before


def test_documents_made_by_other_stage_code_are_processed_again_and_then_left_alone(prefect_harness, tmp_path, monkeypatch):
    """An upgrade of the stages (code, rules or settings: processing_fingerprint) re-extracts unchanged files
    once, recording each old version as 'reprocessed'; the run after that is an unchanged one again."""
    from flows.ops import batch as batch_work
    from flows.pipeline import run_pipeline

    raw = _seed_folder(tmp_path / "raw")
    db, reports = tmp_path / "w.duckdb", tmp_path / "reports"
    first = run_pipeline(raw, db, reports, Settings())
    made_with = {v for (v,) in _q(db, "SELECT DISTINCT processed_with FROM documents")}
    assert first.processed == 3 and made_with == {batch_work.processing_fingerprint(Settings())}
    before = _counts(db)

    monkeypatch.setattr(batch_work, "processing_fingerprint", lambda _settings: "an-upgrade")
    upgraded = run_pipeline(raw, db, reports, Settings())
    assert upgraded.processed == 3 and upgraded.skipped == 0
    assert _q(db, "SELECT reason, count(*) FROM document_versions GROUP BY 1") == [("reprocessed", 3)]
    assert _q(db, "SELECT DISTINCT processed_with FROM documents") == [("an-upgrade",)]
    after = _counts(db)
    assert {t: n for t, n in after.items() if t != "document_versions"} == {
        t: n for t, n in before.items() if t != "document_versions"
    }, "the same code under a new fingerprint makes the same rows"

    again = run_pipeline(raw, db, reports, Settings())
    assert again.processed == 0 and again.skipped == 3 and set(again.stage_seconds) == {"discover"}


def test_the_malloc_arena_limit_is_set_in_glibc_and_zero_leaves_the_default():
    import subprocess
    import sys

    code = "from flows.pipeline import limit_malloc_arenas as f; print(f(2), f(0))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "False"]
