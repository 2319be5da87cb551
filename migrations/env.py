"""Alembic environment: URL from the settings, or a connection handed in by the caller."""

from alembic import context
from sqlalchemy import Connection

from cinecluster.db import make_engine
from cinecluster.tables import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    handed_in = context.config.attributes.get("connection")
    if handed_in is not None:  # tests and `cinecluster` pass their own connection
        run_migrations(handed_in)
        return
    engine = make_engine("cli")
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_online()
