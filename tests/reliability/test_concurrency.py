"""Issue 7, concurrency: two `recon run` on one warehouse at once. The writer lock serializes
them: the second waits and then finds nothing to do, or (with a short RECON_RUN_LOCK_TIMEOUT_S)
exits 5 with one line naming the lock's holder. Never a traceback, never a damaged warehouse."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from flows.warehouse import WriterLock
from tests.reliability.conftest import SEEDS, assert_one_clear_line, copy_seeds, recon_cmd, rows, run_recon

pytestmark = pytest.mark.e2e


def _args(raw: Path, db: Path, reports: Path) -> tuple[str, ...]:
    return ("run", "--raw", str(raw), "--warehouse", str(db), "--report-dir", str(reports))


def test_two_runs_at_once_one_loads_and_the_other_waits_then_finds_nothing_to_do(tmp_path, recon_env):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    copy_seeds(raw)
    env = {**recon_env, "RECON_RUN_LOCK_TIMEOUT_S": "120"}
    procs = [
        subprocess.Popen(
            recon_cmd(*_args(raw, db, tmp_path / f"reports{i}")),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert_one_clear_line(err)
    processed = sorted(int(re.search(r"(\d+) documents processed", out).group(1)) for out, _ in outs)
    assert processed == [0, len(SEEDS)], "the lock serialized the runs: one loaded, the other found it done"

    n_docs, n_paths = rows(db, "SELECT count(*), count(DISTINCT source_path) FROM documents")[0]
    n_claims, n_ids = rows(db, "SELECT count(*), count(DISTINCT claim_id) FROM claims")[0]
    assert n_docs == n_paths == len(SEEDS) and n_claims == n_ids > 0
    assert [s for (s,) in rows(db, "SELECT status FROM runs")] == ["succeeded", "succeeded"]
    assert rows(db, "SELECT count(*) FROM document_versions") == [(0,)]


def test_a_run_that_cannot_get_the_lock_says_who_holds_it(tmp_path, recon_env):
    raw, db = tmp_path / "raw", tmp_path / "w.duckdb"
    copy_seeds(raw)
    with WriterLock(db, "run-held-by-the-test", timeout_s=1):
        t0 = time.monotonic()
        result = run_recon(recon_env, *_args(raw, db, tmp_path / "r"), extra_env={"RECON_RUN_LOCK_TIMEOUT_S": "0.5"})
        waited = time.monotonic() - t0
    assert result.returncode == 5, result.stderr
    assert_one_clear_line(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, "the locked run fails before any stage starts, in one line"
    assert re.fullmatch(
        rf"recon run: error: warehouse {re.escape(str(db))} is being written by run run-held-by-the-test "
        r"\(pid \d+, since [0-9T:-]+\); waited 0\.5 s\. .*RECON_RUN_LOCK_TIMEOUT_S.*",
        lines[0],
    ), lines[0]
    assert not db.exists(), "a run that could not get the lock did not touch the warehouse"
    assert waited < 30, "it waited the bounded time, then gave up"
