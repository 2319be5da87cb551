"""Helpers shared by command modules."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from cinecluster.db import Role, make_engine
from cinecluster.errors import UserError


@contextmanager
def cli_engine(role: Role = "cli") -> Iterator[Engine]:
    """An engine for one command; an unreachable database is a one-line error, not a traceback."""
    engine = make_engine(role)
    try:
        yield engine
    except OperationalError as error:
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise UserError(f"database error: {first_line}") from None
    finally:
        engine.dispose()
