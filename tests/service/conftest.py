"""API tests: the app through HTTP (TestClient) against ml-latest-small loaded and clustered
by the real loader and recluster job (tests/conftest.py: clustered_template)."""

from collections.abc import Iterator

import pytest
from api_helpers import TOKEN, api_client
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine


@pytest.fixture(scope="session")
def read_db_url(databases, clustered_template: str) -> str:  # type: ignore[no-untyped-def]
    """One clustered clone shared by the read-only tests (they never write)."""
    return databases.create(template=clustered_template)


@pytest.fixture(scope="session")
def client(read_db_url: str) -> Iterator[TestClient]:
    with api_client(read_db_url) as c:
        yield c


@pytest.fixture(scope="session")
def read_engine(read_db_url: str) -> Iterator[Engine]:
    """For checking answers against SQL."""
    engine = create_engine(read_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def writable(clustered_db_url: str) -> Iterator[tuple[TestClient, Engine]]:
    """A fresh clustered database with writes enabled (token TOKEN), and an engine on it."""
    engine = create_engine(clustered_db_url)
    with api_client(clustered_db_url, token=TOKEN) as c:
        yield c, engine
    engine.dispose()
