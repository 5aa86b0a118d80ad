"""Fault tests run `recon` as a user would: a subprocess over a raw folder, judged by exit code,
output and the warehouse afterwards. They share the session's Prefect test server (so each run
skips the temporary server's start-up) through PREFECT_API_URL."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "raw").glob("*.txt"))
# every table a run may write; `runs` gains one row per run by design and is compared apart
TABLES = (
    "documents", "document_versions", "boilerplate", "normalization_edits", "spin_sentences", "timexes",
    "entities", "mentions", "claims", "conflicts", "conflict_claims", "reviews", "quarantine", "copies",
    "schema_migrations",
)  # fmt: skip


@pytest.fixture(scope="session")
def recon_env(prefect_harness) -> dict[str, str]:
    """Environment for `recon` subprocesses: the session's Prefect API, no telemetry, no RECON_ overrides."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env.update(
        PREFECT_API_URL=PREFECT_API_URL.value(),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PYTHONPATH=str(REPO),
    )
    return env


def recon_cmd(*args: str) -> list[str]:
    """The command line of `recon ARGS` (python -m flows is the same program)."""
    return [sys.executable, "-m", "flows", *args]


def run_recon(
    env: Mapping[str, str], *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """Run `recon ARGS` to completion and capture its output."""
    return subprocess.run(
        recon_cmd(*args), env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def copy_seeds(raw: Path) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for p in SEEDS:
        shutil.copy2(p, raw / p.name)


def table_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root: kind, mode, mtime and content hash (links by target, never followed)."""
    out: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p), st.st_mtime_ns)
        elif p.is_dir():
            out[rel] = ("dir", st.st_mode, st.st_mtime_ns)
        else:
            try:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            except PermissionError:
                digest = "unreadable"
            out[rel] = ("file", st.st_mode, st.st_mtime_ns, st.st_size, digest)
    out["."] = ("dir", root.stat().st_mode, root.stat().st_mtime_ns)
    return out


def assert_one_clear_line(stderr: str) -> None:
    """No traceback, and the error (if any) is the last line, prefixed as the CLI prints it."""
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if "error" in last:
        assert last.startswith("recon "), last
