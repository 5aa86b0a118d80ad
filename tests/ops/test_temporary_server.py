"""A plain run with no PREFECT_API_URL starts Prefect's temporary server as a child process, without
importing the server into the flow's process, and stops it when the process ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

RUN = """
import json, sys
from pathlib import Path
from flows.pipeline import run_pipeline
from flows.ops import server
from flows.settings import Settings

root = Path(sys.argv[1])
summary = run_pipeline(Path(sys.argv[2]), root / "recon.duckdb", root / "reports", Settings(), workers=1)
print(json.dumps({
    "claims": summary.claims,
    "server_pid": server._temporary.process.pid,
    "server_modules": sorted(m for m in sys.modules if m.startswith("prefect.server")),
}))
"""


def test_a_plain_run_starts_the_temporary_server_in_a_child_and_stops_it_at_exit(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "RECON_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), DO_NOT_TRACK="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(tmp_path), str(REPO / "raw")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["claims"] > 0
    # the server package (FastAPI, SQLAlchemy, the API's models) loads in the server's process only
    assert out["server_modules"] == []
    assert not psutil.pid_exists(out["server_pid"]) or psutil.Process(out["server_pid"]).status() == psutil.STATUS_ZOMBIE
