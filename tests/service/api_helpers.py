"""Helpers shared by the API tests (a uniquely named module: test dirs have no __init__.py)."""

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from cinecluster.settings import Settings
from service.app import create_app

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
