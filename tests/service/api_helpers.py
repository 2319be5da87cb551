"""Helpers shared by the API tests (a uniquely named module: test dirs have no __init__.py)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from cinecluster.settings import Settings
from service.app import create_app

TOKEN = "test-admin-token"
READY_DEADLINE_S = 120  # start-up on a busy 2-core machine; only turns a hang into a failure


@contextmanager
def api_client(url: str, token: str | None = None) -> Iterator[TestClient]:
    """The app for `url`, started (lifespan) and stopped around the block."""
    settings = Settings(database_url=url, admin_token=token)
    with TestClient(create_app(settings)) as client:
        yield client


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rated_by(engine: Engine, user_id: int) -> set[int]:
    with engine.connect() as conn:
        return set(
            conn.execute(text("SELECT movie_id FROM ratings WHERE user_id = :u"), {"u": user_id}).scalars()
        )


def cluster_of(engine: Engine, movie_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT cluster FROM movie_clusters WHERE movie_id = :m"
                " AND version = (SELECT version FROM active_model)"
            ),
            {"m": movie_id},
        ).scalar_one()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A running `cinecluster serve`: its base URL, its process and its stderr (a file, so a
    chatty process never blocks on a full pipe)."""

    base: str
    process: subprocess.Popen[str]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def served(db_url: str, log_dir: Path, cli: Sequence[str] = ("-m", "cinecluster")) -> Iterator[Served]:
    """`python -m cinecluster serve` (uvicorn, the real HTTP stack; `cli`: how python starts the
    CLI) on `db_url` with the admin token TOKEN, answering /healthz; stopped with SIGTERM (a
    graceful shutdown) and waited for at the end of the block."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "CINECLUSTER_ADMIN_TOKEN": TOKEN}
    stderr_path = log_dir / f"serve-{port}.log"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [sys.executable, *cli, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
    server = Served(f"http://127.0.0.1:{port}", process, stderr_path)
    try:
        _wait_until_answering(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(server: Served) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"serve exited with {server.process.returncode}: {server.stderr()[-4000:]}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            pytest.fail(f"serve not answering within {READY_DEADLINE_S} s")
        time.sleep(0.1)  # poll interval; the condition is the HTTP answer above
