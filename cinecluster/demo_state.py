"""What the demo loaded last, so a second start with the same data skips the load.

The record is a JSON comment on the database itself (no schema change, travels with pg_dump,
written in the caller's transaction). It names the files' content hash and the row counts the
load produced: if anyone changes the tables afterwards (`cinecluster load`, POST /ratings), the
counts no longer match and the demo loads again rather than trusting a stale record.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, func, select, text

from cinecluster.db import raw_connection
from cinecluster.tables import movies, ratings, tags

MARK = "cinecluster-demo"
# The files `cinecluster load DIR` reads: raw MovieLens names and the data team's cleaned ones.
DATA_FILES = (
    "movies.csv",
    "ratings.csv",
    "tags.csv",
    "links.csv",
    "cleaned_movies.csv",
    "cleaned_ratings.csv",
    "cleaned_tags.csv",
)


def data_fingerprint(directory: Path) -> str:
    """sha256 over the names and contents of the loadable files in `directory`."""
    digest = hashlib.sha256()
    for name in DATA_FILES:
        path = directory / name
        if path.is_file():
            with open(path, "rb") as file:
                digest.update(f"{name}\0".encode())
                digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()


def table_counts(conn: Connection) -> dict[str, int]:
    return {
        "movies": conn.scalar(select(func.count()).select_from(movies)) or 0,
        "ratings": conn.scalar(select(func.count()).select_from(ratings)) or 0,
        "tags": conn.scalar(select(func.count()).select_from(tags)) or 0,
    }


def loaded_state(conn: Connection) -> dict[str, Any] | None:
    """The record of the demo's last load, or None."""
    comment = conn.scalar(
        text(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
    )
    try:
        state = json.loads(comment or "")
    except ValueError:
        return None
    return state if isinstance(state, dict) and state.get("mark") == MARK else None


def is_loaded(conn: Connection, fingerprint: str) -> bool:
    """True when the tables still hold exactly what the demo loaded from these files."""
    state = loaded_state(conn)
    return bool(
        state and state.get("fingerprint") == fingerprint and state.get("counts") == table_counts(conn)
    )


def record_load(conn: Connection, fingerprint: str, source: str) -> None:
    """Remember that the tables now hold `fingerprint`'s data (with the current counts)."""
    state = {"mark": MARK, "fingerprint": fingerprint, "source": source, "counts": table_counts(conn)}
    database = str(conn.scalar(text("SELECT current_database()")))
    # COMMENT takes no bind parameters: psycopg quotes the identifier and the literal.
    statement = sql.SQL("COMMENT ON DATABASE {} IS {}").format(
        sql.Identifier(database), sql.Literal(json.dumps(state))
    )
    raw_connection(conn).execute(statement)
