"""One engine factory; the role shows up as application_name in pg_stat_activity."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import psycopg
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url

from cinecluster.settings import get_settings, normalize_database_url

Role = Literal["api", "loader", "scheduler", "cli", "test", "evaluate", "demo"]


def make_engine(role: Role, url: str | None = None, **kwargs: Any) -> Engine:
    """Engine for `role`; `url` defaults to DATABASE_URL."""
    settings = get_settings()
    url = normalize_database_url(url) if url else settings.require_database_url()
    connect_args: dict[str, Any] = {
        "application_name": f"cinecluster-{role}",
        "connect_timeout": settings.connect_timeout_s,
    }
    connect_args.update(kwargs.pop("connect_args", {}))
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def libpq_url(url: str) -> str:
    """The URL without SQLAlchemy's driver suffix, as psycopg and psql expect it."""
    return (
        make_url(normalize_database_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def raw_connection(conn: Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy one (for COPY inside the same transaction)."""
    driver_conn = conn.connection.driver_connection
    assert isinstance(driver_conn, psycopg.Connection)
    return driver_conn


@contextmanager
def transaction(role: Role, url: str | None = None) -> Iterator[Connection]:
    """A connection in one transaction on a throwaway engine: for one-shot CLI jobs."""
    engine = make_engine(role, url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()
