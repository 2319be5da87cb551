"""`cinecluster db ...`: schema migrations."""

import typer

from cinecluster.cli.app import app
from cinecluster.cli.common import cli_engine

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from cinecluster import migrate  # alembic: only the db commands pay its import

    with cli_engine() as engine:
        migrate.upgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")


@db_app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base.")) -> None:
    """Revert migrations down to REVISION."""
    from cinecluster import migrate  # alembic: only the db commands pay its import

    with cli_engine() as engine:
        migrate.downgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(engine) or 'base'}")


@db_app.command("current")
def current() -> None:
    """Print the database's current revision."""
    from cinecluster import migrate  # alembic: only the db commands pay its import

    with cli_engine() as engine:
        typer.echo(migrate.current_revision(engine) or "base (no revision applied)")
