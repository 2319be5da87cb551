"""`cinecluster serve` of this checkout in a child process: on a free port (or a given one),
waited for until it answers, stopped with SIGTERM (a graceful shutdown) at the end of the block.
The one way the benchmarks and the API tests (tests/service/api_helpers.py) run the real HTTP
stack.

It lives among the benchmarks, not under tests/, so that a benchmark never imports the test tree
(pytest, the TestClient, the suite's fixtures); the tests put this folder on sys.path for it, as
the benchmarks do for their shared helpers. Only the standard library and httpx (which both
have), and no pytest: a failure is a ServeFailed that names the process's output.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
READY_DEADLINE_S = 120  # start-up on a busy 2-core machine; only turns a hang into a failure
STOP_DEADLINE_S = 30  # the graceful shutdown's; then SIGKILL
POLL_S = 0.1  # the readiness poll's interval; the condition is the HTTP answer


class ServeFailed(RuntimeError):
    """serve exited, or did not answer in time (the message ends with its output)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Served:
    """A running `cinecluster serve`: its base URL, its process and its output (stdout and
    stderr in a file, so a chatty process never blocks on a full pipe)."""

    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def check(self) -> None:
        """ServeFailed if the process has exited (for callers that wait on something else)."""
        if self.process.poll() is not None:
            raise ServeFailed(f"serve exited with {self.process.returncode}:\n{self.log()[-4000:]}")


@contextmanager
def served(
    db_url: str,
    log_dir: Path,
    *,
    token: str | None = None,
    ready: str = "/healthz",
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    python_args: Sequence[str] = ("-m", "cinecluster"),
) -> Iterator[Served]:
    """`python <python_args> serve` on `db_url` (the admin token `token`, else whatever the
    environment sets; `env` added on top), yielded once `ready` answers 200: /healthz (the
    process answers) or /readyz (its database does too). The output goes to
    log_dir/serve-PORT.log. This checkout comes first on the child's PYTHONPATH, so it serves
    this checkout's code whatever the virtualenv's editable install points at."""
    port = port or free_port()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    child_env = {**os.environ, **(env or {}), "DATABASE_URL": db_url, "PYTHONPATH": path}
    if token is not None:
        child_env["CINECLUSTER_ADMIN_TOKEN"] = token
    log_path = log_dir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *python_args, "serve", "--port", str(port)],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Served(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_answering(server, ready)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(server: Served, path: str) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        server.check()
        try:
            if httpx.get(f"{server.base}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise ServeFailed(
                f"serve not answering {path} within {READY_DEADLINE_S} s:\n{server.log()[-4000:]}"
            )
        time.sleep(POLL_S)
