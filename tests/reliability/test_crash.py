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
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import REPO, assert_one_clear_line, recon_cmd, rows, run_recon

pytestmark = pytest.mark.e2e

ECB = REPO.parent / "shared" / "bench" / "ecbplus" / "docs.jsonl"
N_DOCS = 200
BATCH = 20
COMMITTED = re.compile(r"^load: batch (\d+)/(\d+) committed")


def _write_corpus(raw: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "ecbplus_to_raw.py"), str(raw), "--limit", str(N_DOCS)],
        check=True,
        capture_output=True,
    )


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


@pytest.mark.skipif(not ECB.exists(), reason=f"the ECB+ benchmark corpus is not at {ECB}")
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
