"""A plain run with no PREFECT_API_URL serves Prefect's temporary server on a thread of its own process:
the flow run is recorded there, no server process is started, and later runs reuse the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

RUN = """
import asyncio, json, sys
from pathlib import Path
import psutil
from flows.pipeline import run_pipeline
from flows.ops import server
from flows.settings import Settings

root, raw = Path(sys.argv[1]), Path(sys.argv[2])
children = []
def run(name):
    summary = run_pipeline(raw, root / f"{name}.duckdb", root / name, Settings(), workers=2)
    cmds = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)]
    children.append([c for c in cmds if "uvicorn" in c or "prefect" in c])
    return summary.claims, server._temporary.api_url

(claims, url), (_claims, url_again) = run("first"), run("second")

from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort
from prefect.settings import PREFECT_API_URL, temporary_settings

async def flow_runs():
    async with get_client() as client:
        return [(r.name and r.flow_id is not None, r.state_type.value) for r in await client.read_flow_runs(limit=10, sort=FlowRunSort.START_TIME_ASC)]

async def task_runs(deadline):
    # task runs reach the server as events that its task-run recorder writes in batches: wait for them
    async with get_client() as client:
        while True:
            got = {}
            for r in await client.read_task_runs(limit=200, sort=TaskRunSort.EXPECTED_START_TIME_ASC):
                got.setdefault(str(r.flow_run_id), {}).setdefault(r.name.rsplit("-", 1)[0], set()).add(r.state_type.value)
            done = [{name: sorted(states) for name, states in sorted(by_name.items())} for by_name in got.values()]
            if (len(done) == 2 and all({"prepare", "load", "reconcile", "report"} <= set(d) for d in done)) or time.time() > deadline:
                return done
            await asyncio.sleep(0.2)

import time
with temporary_settings({PREFECT_API_URL: url}):
    runs = asyncio.run(flow_runs())
    tasks = asyncio.run(task_runs(time.time() + 30))
print(json.dumps({"claims": claims, "url": url, "url_again": url_again, "runs": runs, "tasks": tasks, "children": children,
                  "thread": server._temporary.thread.is_alive(), "done_at": time.time()}), flush=True)
"""


def test_a_plain_run_serves_the_temporary_server_on_a_thread_and_reuses_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "RECON_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), DO_NOT_TRACK="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(tmp_path), str(REPO / "raw")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    exited_at = time.time()
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # the server stops with the process: an exit hook that came too late once left it spinning until
    # its 20 s stop timeout ran out
    assert exited_at - out["done_at"] < 10
    assert out["claims"] > 0
    assert out["thread"] and out["url"] == out["url_again"]  # one server per process, as Prefect's own
    # both flow runs were recorded by the temporary server, and completed
    assert out["runs"] == [[True, "COMPLETED"], [True, "COMPLETED"]]
    # and so were their tasks (the server's task-run recorder), each completed
    assert len(out["tasks"]) == 2
    for tasks in out["tasks"]:
        assert {"prepare", "load", "reconcile", "report"} <= set(tasks)
        assert all(states == ["COMPLETED"] for states in tasks.values()), tasks
    # no server process was started (Prefect's own would be a uvicorn child running prefect.server)
    assert out["children"] == [[], []]


def test_a_temporary_server_that_stops_while_starting_is_one_error_naming_why() -> None:
    import threading

    from flows.errors import OrchestrationError
    from flows.ops.server import TemporaryServer, free_port
    from flows.settings import OpsSettings

    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    temp = TemporaryServer(f"http://127.0.0.1:{free_port('127.0.0.1')}/api", object(), ended, [OSError("address in use")])
    with pytest.raises(OrchestrationError, match="stopped while starting: OSError: address in use"):
        temp.wait_healthy(OpsSettings(server_start_timeout_s=30.0))
