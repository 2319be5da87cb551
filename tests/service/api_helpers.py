"""Helpers shared by the API tests (a uniquely named module: test dirs have no __init__.py)."""

import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from cinecluster.settings import Settings
from service.app import create_app

# benchmarks/serve_process.py: how the benchmarks and these tests start `cinecluster serve`.
# Appended, so that no benchmark module shadows anything already importable.
sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))
import serve_process
from serve_process import Served

TOKEN = "test-admin-token"


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


def served(
    db_url: str, log_dir: Path, cli: Sequence[str] = ("-m", "cinecluster")
) -> AbstractContextManager[Served]:
    """`python -m cinecluster serve` (uvicorn, the real HTTP stack; `cli`: how python starts the
    CLI) on `db_url` with the admin token TOKEN, answering /healthz; stopped with SIGTERM at the
    end of the block (benchmarks/serve_process.py, shared with the benchmarks)."""
    return serve_process.served(db_url, log_dir, token=TOKEN, python_args=cli)
