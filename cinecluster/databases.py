"""Whole databases on one server, made and dropped: the test suite's, an evaluation's, a
benchmark's, the demo's. One place for the SQL, the quoting and the forced drop."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from cinecluster.db import libpq_url


def database_url(server_url: str, name: str) -> str:
    """`server_url` pointing at database `name` instead."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _admin(server_url: str) -> psycopg.Connection:
    # CREATE/DROP DATABASE cannot run inside a transaction block
    return psycopg.connect(libpq_url(server_url), autocommit=True, application_name="cinecluster-admin")


def exists(server_url: str, name: str) -> bool:
    with _admin(server_url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """Create `name` (a copy of `template` when given); its URL."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with _admin(server_url) as conn:
        conn.execute(statement)
    return database_url(server_url, name)


def drop_database(server_url: str, *names: str) -> None:
    """Drop each of `names` if it exists, closing its sessions first (FORCE)."""
    with _admin(server_url) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fresh_database(server_url: str, name: str) -> str:
    """`name`, dropped if it was there and created empty: a benchmark's own database."""
    drop_database(server_url, name)
    return create_database(server_url, name)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def scratch_database(server_url: str, prefix: str = "cinecluster_scratch") -> Iterator[str]:
    """The URL of a new, empty database; dropped afterwards, also on failure or Ctrl-C."""
    name = unique_name(prefix)
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)
