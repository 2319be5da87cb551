"""Helpers for loader tests: small CSV files in tmp_path and table snapshots."""

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from loaders.files import locate
from loaders.load import load_files

TABLES = ("movies", "links", "ratings", "tags")

# a small, valid catalogue most tests load first
MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children
2,Jumanji (1995),Adventure|Children
3,Heat (1995),Action|Crime|Thriller
"""
RATINGS = """userId,movieId,rating,timestamp
1,1,4.0,964982703
1,2,3.5,964981247
2,3,5.0,964982224
"""
TAGS = """userId,movieId,tag,timestamp
1,1,pixar,1445714994
2,3,heist,1445714996
"""

_SNAPSHOT = {
    "movies": "SELECT md5(string_agg(concat_ws('/', movie_id, title, year, genres), ';' ORDER BY movie_id)) "
    "FROM movies",
    "links": "SELECT md5(string_agg(concat_ws('/', movie_id, imdb_id, tmdb_id), ';' ORDER BY movie_id)) "
    "FROM links",
    "ratings": "SELECT md5(string_agg(concat_ws('/', user_id, movie_id, rating, ts), ';' "
    "ORDER BY user_id, movie_id)) FROM ratings",
    "tags": "SELECT md5(string_agg(concat_ws('/', movie_id, user_id, tag, ts), ';' "
    "ORDER BY movie_id, user_id, tag, ts)) FROM tags",
}


def write(directory: Path, files: dict[str, str | bytes]) -> Path:
    """Write name -> content into `directory` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (directory / name).write_bytes(data)
    return directory


def query(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def counts() -> Callable[[str], dict[str, int]]:
    """Row count per source table of the database at `url`."""

    def count(url: str) -> dict[str, int]:
        rows = query(url, " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES))
        return {table: int(n) for table, n in rows}

    return count


@pytest.fixture
def snapshot() -> Callable[[str], dict[str, object]]:
    """A digest of every row of every source table: equal digests = identical contents."""

    def digest(url: str) -> dict[str, object]:
        return {table: query(url, sql)[0][0] for table, sql in _SNAPSHOT.items()}

    return digest


@pytest.fixture
def load() -> Callable[..., dict[str, dict]]:
    """Load in-process (the rule tests' fast lane; CLI behaviour is tested through run_cli).

    load(url, directory, mode=..., strict=..., ratings=path, ...) -> {kind: report as dict}
    """

    def run(
        url: str, directory: Path | None = None, mode: str = "replace", strict: bool = False, **files: Path
    ):
        engine = create_engine(url)
        try:
            summary = load_files(engine, locate(directory, files), mode, strict)  # type: ignore[arg-type]
        finally:
            engine.dispose()
        return {report["kind"]: report for report in summary.as_dict()["files"]}  # type: ignore[index]

    return run
