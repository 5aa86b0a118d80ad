"""Local Prefect servers: start one on loopback, wait for health, stop it.

Needs: OpsSettings (host, timeouts) and a PREFECT_HOME folder for the server's database.
Adds: a running ``prefect server start`` subprocess for scheduling and Dask runs, with its API and UI
URLs; and the temporary server of a plain run (Prefect's own app, on a thread of the run's process).
Imports no Prefect at module level, so a caller can start a server and export PREFECT_API_URL before
Prefect reads its settings.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flows.errors import OrchestrationError
from flows.settings import PROJECT_ROOT, OpsSettings

DEFAULT_HOME = PROJECT_ROOT / ".prefect"
# settings a child server must not inherit from the caller: it is the server, not a client of another
_CLIENT_ONLY_ENV = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE")


@dataclass
class LocalServer:
    """A ``prefect server start`` subprocess this process owns."""

    api_url: str
    ui_url: str
    process: subprocess.Popen
    log_path: Path
    started_s: float  # seconds from spawn to the first healthy answer

    def stop(self, timeout_s: float) -> int | None:
        """Stop the server (SIGTERM to its process group, SIGKILL after timeout_s); returns its exit code."""
        return stop_process(self.process, timeout_s)


def free_port(host: str) -> int:
    """A TCP port on host that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    """True when GET <api_url>/health answers true."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as resp:
            return resp.status == 200 and json.loads(resp.read() or b"false") is True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(
    api_url: str, timeout_s: float, poll_s: float, process: subprocess.Popen | None = None,
    stopped: Callable[[], str | None] | None = None,
) -> float:
    """Poll the health endpoint until it answers; returns the seconds waited, raises on timeout or exit.

    ``process``: the server's process, whose exit ends the wait; ``stopped``: for a server that is not a
    process of its own, says why it stopped (None while it runs).
    """
    t0 = time.monotonic()
    deadline = t0 + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise OrchestrationError(f"the Prefect server at {api_url} exited with code {process.returncode} while starting")
        if stopped is not None and (why := stopped()) is not None:
            raise OrchestrationError(f"the Prefect server at {api_url} stopped while starting{why}")
        if is_healthy(api_url):
            return time.monotonic() - t0
        time.sleep(poll_s)
    raise OrchestrationError(
        f"the Prefect server at {api_url} was not healthy after {timeout_s:g} s; "
        "raise RECON_OPS_SERVER_START_TIMEOUT_S or look at its log"
    )


def server_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a local server process: its own home and database, no analytics, quiet logs."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _CLIENT_ONLY_ENV}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_LOGGING_LEVEL": env.get("PREFECT_SERVER_LOGGING_LEVEL", "WARNING"),
        }
    )
    return env


def start_local_server(
    settings: OpsSettings,
    home: Path = DEFAULT_HOME,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> LocalServer:
    """Start ``prefect server start`` on loopback and return once its API is healthy."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    host = settings.server_host
    port = port or free_port(host)
    log_path = home / f"server-{port}.log"
    env = server_env(home)
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    api_url = f"http://{host}:{port}/api"
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        # a session of its own: Ctrl-C in the terminal reaches the serving process, which stops the server in order
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(api_url, settings.server_start_timeout_s, settings.health_poll_s, proc)
    except BaseException as exc:
        stop_process(proc, settings.server_stop_timeout_s)
        if isinstance(exc, OrchestrationError):
            tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
            raise OrchestrationError(f"{exc} (log {log_path}):\n{tail}") from None
        raise
    return LocalServer(api_url, f"http://{host}:{port}", proc, log_path, time.monotonic() - t0)


def stop_process(proc: subprocess.Popen, timeout_s: float) -> int | None:
    """SIGTERM the process group a child leads, wait, then SIGKILL; returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=timeout_s)


@contextlib.contextmanager
def prefect_api(settings: OpsSettings, home: Path = DEFAULT_HOME, say=None) -> Iterator[str]:
    """The user's PREFECT_API_URL if set, else a local server started here and stopped on exit; yields the API URL.

    While inside, PREFECT_API_URL is exported so that child processes (flow runs, Dask workers) report to
    the same server instead of each starting a temporary one.
    """
    say = say or (lambda _msg: None)
    user_url = os.environ.get("PREFECT_API_URL")
    if user_url:
        say(f"using the Prefect server at {user_url} (PREFECT_API_URL)")
        yield user_url
        return
    say(f"starting a local Prefect server on {settings.server_host} (database under {home}) ...")
    server = start_local_server(settings, home)
    say(f"Prefect server healthy after {server.started_s:.1f} s; UI: {server.ui_url}  (log {server.log_path})")
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        yield server.api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop(settings.server_stop_timeout_s)
        say("Prefect server stopped")


# seconds the temporary server gives open connections (the flow's event stream) to close when the process exits
_GRACE_S = 2
_temporary: TemporaryServer | None = None  # the one temporary server of this process, once started


@dataclass
class TemporaryServer:
    """Prefect's temporary server (no UI, no scheduler, a SQLite database under PREFECT_HOME) on a thread of this process.

    Prefect starts the same app (``create_app(ephemeral=True)``) under uvicorn in a child process when no
    PREFECT_API_URL is set. That child re-imported what the flow process had loaded already (Python,
    pydantic, Prefect's client: 223 MB resident at any size of run), and to start it Prefect imported the
    server package into the flow process as well (74 MB). Here the app runs on a thread beside the flow:
    the package is imported once, and the run has one process fewer. The flow reaches it over loopback
    HTTP as it would any server; the server does little (a few requests and events per task, and tasks take
    batches), the more so without the services no one can use here (``_unwatched_server_settings``).
    """

    api_url: str
    server: object  # uvicorn.Server: should_exit ends its loop
    thread: threading.Thread
    failure: list[BaseException] = field(default_factory=list)  # what ended the thread early, if anything

    def wait_healthy(self, settings: OpsSettings) -> float:
        """Block until the API answers; returns the seconds waited (raises OrchestrationError if it failed or timed out)."""
        return wait_healthy(self.api_url, settings.server_start_timeout_s, settings.health_poll_s, stopped=self._stopped)

    def _stopped(self) -> str | None:
        if self.thread.is_alive():
            return None
        return f": {type(self.failure[0]).__name__}: {self.failure[0]}" if self.failure else ""

    def stop(self, timeout_s: float) -> None:
        """Ask the server to finish its requests and close its database, and wait for the thread."""
        self.server.should_exit = True  # type: ignore[attr-defined]
        self.thread.join(timeout_s)


def _unwatched_server_settings() -> dict:
    """Services of Prefect's temporary server that no one can use: it has no UI and lives as long as its run.

    The event stream out (for subscribers such as the UI), automations' triggers and actions, and the
    event store (the UI's event feed). Run records need none of them: flow runs are set through the
    API and task runs by the task-run recorder, which stays on. Each task's events went through all
    four services, on a machine whose two cores the run's workers keep busy. The server's CPU per task
    (`scripts/prefect_task_cost.py`, six alternating runs each on one database) varies from run to run
    for reasons not found: 17.6-24.3 ms, median 21.6, without them against 17.0-29.7, median 24.7.
    """
    from prefect import settings as ps

    return {
        ps.PREFECT_API_EVENTS_STREAM_OUT_ENABLED: False,
        ps.PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED: False,  # ReactiveTriggers and Actions
        ps.PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: False,
    }


def ephemeral_app():
    """Prefect's API app as its temporary server builds it: no UI, no scheduler; of its event services, those
    ``_unwatched_server_settings`` leaves on (the task-run recorder among them)."""
    from prefect.server.api.server import create_app

    return create_app(ephemeral=True, final=True)


def temporary_server(settings: OpsSettings) -> TemporaryServer:
    """This process's temporary Prefect server, started on first use without waiting for it; stopped at exit.

    One server serves every run of the process, as Prefect's own does; ``wait_healthy`` before the first
    use, and point PREFECT_API_URL at ``api_url``. The app is built on the server's thread, so a caller
    can start its worker processes meanwhile.
    """
    global _temporary
    if _temporary is not None and _temporary.thread.is_alive():
        return _temporary
    import uvicorn  # Prefect's own server dependency
    from prefect.settings import temporary_settings

    host = settings.server_host
    port = free_port(host)
    # a factory: uvicorn builds the app (and imports the server package) on the server's thread;
    # log_config None: uvicorn leaves the process's logging configuration alone
    config = uvicorn.Config(f"{__name__}:ephemeral_app", factory=True, host=host, port=port, log_level="error",
                            log_config=None, lifespan="on", timeout_graceful_shutdown=_GRACE_S)  # fmt: skip
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            # set in this thread's context, which the app's event loop and services inherit; the process's
            # environment, which a `prefect server start` child would inherit, is left alone
            with temporary_settings(_unwatched_server_settings()):
                server.run()
        except BaseException as exc:  # noqa: BLE001  (reported by wait_healthy, which the caller is blocked in)
            failure.append(exc)

    thread = threading.Thread(target=serve, name="prefect-temporary-server", daemon=True)
    temp = TemporaryServer(f"http://{host}:{port}/api", server, thread, failure)
    thread.start()
    _temporary = temp
    # stopped while the interpreter can still start threads, which the app's shutdown needs (a plain
    # atexit handler comes too late: the server then spun until the stop timed out). Prefect's event and
    # log workers drain on the same hook, and being started after the server, they drain before it stops
    at_exit = getattr(threading, "_register_atexit", atexit.register)
    at_exit(temp.stop, settings.server_stop_timeout_s)
    return temp
