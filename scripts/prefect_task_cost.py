"""CPU and wall time per Prefect task with the run's temporary server, by thread of this process.

Run: .venv/bin/python scripts/prefect_task_cost.py [N]
Starts the temporary server as a plain run does (flows.ops.server, on a thread of this process), runs a
flow of N trivial tasks (default 200) once to warm up and once measured, each submitted and waited for
in turn, and prints the wall milliseconds per task and the CPU milliseconds per task of each thread
(the server's thread, Prefect's client threads, its SQLite connection threads).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flows.pipeline  # noqa: E402, F401  (sets Prefect's environment, as a run does, before Prefect loads)
from flows.ops.server import temporary_server  # noqa: E402


def main() -> None:
    import psutil
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.settings import load_settings

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200

    @task(name="noop", cache_policy=NO_CACHE)
    def noop(x: int) -> int:
        return x

    @flow(name="task-cost")
    def tasks() -> None:
        for i in range(n):
            noop.submit(i).result()

    if PREFECT_API_URL.value():
        sys.exit("PREFECT_API_URL is set: this measures the temporary server; unset it")
    settings = load_settings()
    server = temporary_server(settings.ops)
    server.wait_healthy(settings.ops)
    me = psutil.Process()

    def cpu_by_thread() -> dict[str, float]:
        names = {t.native_id: t.name for t in threading.enumerate()}
        out: dict[str, float] = {}
        for t in me.threads():
            name = names.get(t.id, "native")
            out[name] = out.get(name, 0.0) + t.user_time + t.system_time
        return out

    with temporary_settings({PREFECT_API_URL: server.api_url}):
        tasks()  # warm: the flow and task are registered, the server's routes and queries compiled
        before, t0 = cpu_by_thread(), time.perf_counter()
        tasks()
        wall, after = time.perf_counter() - t0, cpu_by_thread()
    print(f"{n} tasks: {1000 * wall / n:.1f} ms wall per task; CPU ms per task by thread:")
    for name, secs in sorted(after.items(), key=lambda kv: before.get(kv[0], 0.0) - kv[1]):
        used = secs - before.get(name, 0.0)
        if used > 0.005:
            print(f"  {1000 * used / n:7.2f}  {name}")
    sys.stdout.flush()
    os._exit(0)  # the server thread stops with the process, as in a run


if __name__ == "__main__":
    main()
