"""Issue 7, crashes: a `recon run` killed with SIGKILL while it loads leaves the warehouse at a
batch boundary; the next run (after one loaded article was edited) succeeds, reloads the edit,
keeps the old text in document_versions, duplicates nothing, and is not blocked by the lock
file the dead run left behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.reliability.conftest import REPO, assert_one_clear_line, recon_cmd, rows, run_recon

pytestmark = pytest.mark.e2e

N_DOCS = 200
BATCH = 20
COMMITTED = re.compile(r"^load: batch (\d+)/(\d+) committed")


def _write_corpus(raw: Path) -> None:
    """N_DOCS articles varied from the clean seeds in raw/ (the repo's own data, so CI needs nothing else).

    No spun copies: spun documents load after the clean ones, in batches of their own, and the
    assertions below count whole batches of --batch-size.
    """
    from flows.despin.detect import score_spin
    from flows.ops.bench import generate_corpus
    from flows.settings import OpsSettings, Settings

    seeds = raw.parent / "clean-seeds"
    seeds.mkdir()
    threshold = Settings().despin.spun_threshold
    for p in sorted((REPO / "raw").glob("*.txt")):
        text = p.read_text(encoding="utf-8")
        if score_spin(text, Settings().despin)[0] < threshold:
            (seeds / p.name).write_text(text, encoding="utf-8")
    generate_corpus(seeds, raw, N_DOCS, OpsSettings(bench_spun_share=0.0))


def _kill_after_first_committed_batch(proc: subprocess.Popen) -> list[str]:
    """Read the run's progress until a load batch is committed and more remain, then SIGKILL it."""
    seen = []
    for line in proc.stderr:
        seen.append(line.rstrip("\n"))
        m = COMMITTED.match(line)
        if m and int(m.group(1)) < int(m.group(2)):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(30)
    return seen


def test_a_run_killed_mid_load_is_finished_by_the_next(tmp_path, recon_env):
    raw, db, reports = tmp_path / "raw", tmp_path / "w.duckdb", tmp_path / "reports"
    _write_corpus(raw)
    files = sorted(p.name for p in raw.glob("*.txt"))
    args = ("run", "--raw", str(raw), "--warehouse", str(db), "--report-dir", str(reports), "--batch-size", str(BATCH))

    # its own session, so that worker processes the killed run leaves behind can be cleaned up afterwards
    proc = subprocess.Popen(
        recon_cmd(*args),
        env=recon_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        progress = _kill_after_first_committed_batch(proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # orphaned pool workers of the dead run, if any
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it could be killed mid-load: {progress}"

    # the dead run's state: whole batches only, its runs row still 'running', its lock file left behind
    loaded = dict(rows(db, "SELECT source_path, raw_text FROM documents"))
    assert 0 < len(loaded) < len(files) and len(loaded) % BATCH == 0, len(loaded)
    ((killed_run, status),) = rows(db, "SELECT run_id, status FROM runs")
    assert status == "running"
    lock_file = Path(f"{db}.lock")
    assert killed_run in lock_file.read_text(), "the killed run's lock note is still on disk"

    victim = sorted(loaded)[0]
    old_text = loaded[victim]
    new_text = old_text.rstrip("\n") + "\nA correction was added to this article after it was first loaded.\n"
    (raw / victim).write_text(new_text, encoding="utf-8")

    result = run_recon(recon_env, *args, extra_env={"RECON_RUN_LOCK_TIMEOUT_S": "5"})
    assert result.returncode == 0, result.stderr
    assert_one_clear_line(result.stderr)
    processed = int(re.search(r"(\d+) documents processed", result.stdout).group(1))
    assert processed == len(files) - len(loaded) + 1, "the rest of the folder plus the edited article"

    docs = rows(db, "SELECT source_path, content_sha256 FROM documents")
    assert sorted(p for p, _ in docs) == files, "exactly one current row per source file"
    for path, sha in docs:
        assert sha == hashlib.sha256((raw / path).read_bytes()).hexdigest(), f"{path} is stored as it is now"
    assert rows(db, "SELECT raw_text FROM documents WHERE source_path = ?", (victim,)) == [(new_text,)]
    assert rows(db, "SELECT raw_text, reason FROM document_versions WHERE source_path = ?", (victim,)) == [
        (old_text, "changed")
    ]
    n_claims, n_ids, n_orphans = rows(
        db,
        "SELECT count(*), count(DISTINCT claim_id), count(*) FILTER (WHERE doc_id NOT IN (SELECT doc_id FROM documents))"
        " FROM claims",
    )[0]
    assert n_claims == n_ids > 0 and n_orphans == 0
    (dup_boilerplate,) = rows(
        db,
        "SELECT count(*) FROM (SELECT doc_id, raw_start, raw_end, rule_id FROM boilerplate GROUP BY ALL HAVING count(*) > 1)",
    )[0]
    assert dup_boilerplate == 0
    print(f"killed after {len(loaded)} of {len(files)} documents were loaded; the next run processed {processed}")
    statuses = dict(rows(db, "SELECT run_id, status FROM runs"))
    assert statuses.pop(killed_run) == "abandoned" and list(statuses.values()) == ["succeeded"]


def test_a_run_killed_between_loading_and_reconciling_is_finished_by_the_next(tmp_path, recon_env):
    """Killed after its last load batch committed, before the conflicts were recomputed: no verdict
    points at a claim that is gone, the reconcile is recorded as due, and the next run does it, ending
    with the verdicts a clean reconcile of the same claims gives."""
    from tests.reliability.conftest import copy_seeds

    raw, db, reports = tmp_path / "raw", tmp_path / "w.duckdb", tmp_path / "reports"
    copy_seeds(raw)
    late = sorted(raw.glob("*.txt"))[-1]
    held_back = late.read_bytes()
    late.unlink()
    args = ("run", "--raw", str(raw), "--warehouse", str(db), "--report-dir", str(reports), "--batch-size", "1")
    assert run_recon(recon_env, *args).returncode == 0
    before = rows(db, "SELECT conflict_id FROM conflicts ORDER BY 1")
    late.write_bytes(held_back)

    proc = subprocess.Popen(
        recon_cmd(*args), env=recon_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        for line in proc.stderr:
            m = COMMITTED.match(line)
            if m and m.group(1) == m.group(2):  # the last batch is in; reconcile has not run
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert late.name in {p for (p,) in rows(db, "SELECT source_path FROM documents")}
    dangling = rows(db, "SELECT count(*) FROM conflict_claims WHERE claim_id NOT IN (SELECT claim_id FROM claims)")
    assert dangling == [(0,)], "no verdict points at a claim that is gone"
    assert before, "the first run compared groups"
    assert rows(db, "SELECT count(*) FROM pending_reconcile") == [(1,)], "the reconcile is recorded as due"

    result = run_recon(recon_env, *args)
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) FROM conflict_claims WHERE claim_id NOT IN (SELECT claim_id FROM claims)") == [(0,)]
    assert rows(db, "SELECT conflict_id, verdict FROM conflicts ORDER BY 1") == _verdicts_from_claims(db)
    assert rows(db, "SELECT count(*) FROM pending_reconcile") == [(0,)]
    ((last_run,),) = rows(db, "SELECT run_id FROM runs WHERE status = 'succeeded' ORDER BY started_at DESC LIMIT 1")
    first_line = (reports / "conflicts.md").read_text(encoding="utf-8").splitlines()[0]
    assert last_run in first_line, f"the report was re-rendered by the recovering run: {first_line!r}"


def _verdicts_from_claims(db: Path) -> list[tuple[str, str]]:
    """What reconciling the warehouse's current claims gives (the reconcile stage, run here in-process)."""
    import duckdb

    from flows import warehouse as wh
    from flows.reconcile.compare import compare_groups
    from flows.reconcile.group import group_claims
    from flows.reconcile.trust import source_trust
    from flows.settings import Settings

    cfg = Settings().reconcile
    with duckdb.connect(str(db), read_only=True) as con:
        claims = wh.all_claims(con)
        texts, spin = dict(wh.stream_texts(con)), wh.spin_scores(con)
    trust, _copies = source_trust(texts, spin, cfg)
    verdicts = compare_groups(group_claims(claims, cfg), trust, cfg)
    return sorted({(v.conflict_id, v.verdict) for v in verdicts})


def test_a_run_stopped_by_sigterm_ends_in_order(tmp_path, recon_env):
    """A scheduler's stop (SIGTERM) mid-load: exit 130 in one line, the batch in flight rolled back,
    the runs row says it failed and why, and the lock is free at once."""
    from flows.warehouse import WriterLock

    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    _write_corpus(raw)
    args = ("run", "--raw", str(raw), "--warehouse", str(db), "--report-dir", str(tmp_path / "r"), "--batch-size", str(BATCH))
    proc = subprocess.Popen(
        recon_cmd(*args), env=recon_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        for line in proc.stderr:
            if COMMITTED.match(line):
                os.kill(proc.pid, signal.SIGTERM)
                break
        _out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["recon run: interrupted by SIGTERM; the batch in flight was rolled back"]
    ((status, message),) = rows(db, "SELECT status, message FROM runs")
    assert status == "failed" and ("TerminationSignal" in message or "SIGTERM" in message), message
    (n_docs,) = rows(db, "SELECT count(*) FROM documents")[0]
    assert 0 < n_docs < N_DOCS and n_docs % BATCH == 0, "whole batches only"
    with WriterLock(db, "next", timeout_s=0):
        pass
