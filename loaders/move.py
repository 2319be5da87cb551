"""Set-based SQL that moves good staged rows into the real tables (replace or append).

Replace mode: the caller has already emptied ratings/tags/links for the files given, so those
are plain inserts; movies are upserted and movies absent from the file deleted (TRUNCATE would
need CASCADE and wipe every table that references movies).
Append mode: upserts; loading the same files twice changes nothing.
"""

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from loaders.cascade import delete_absent_movies
from loaders.files import SourceFile
from loaders.indexes import without_indexes
from loaders.rules import reason_sql
from loaders.stage import Stage

Mode = Literal["replace", "append"]

YEAR = r"substring(btrim(title) from '\((\d{4})\)$')::smallint"
GENRES = """CASE WHEN btrim(genres) = '(no genres listed)' THEN '{}'::text[]
    ELSE ARRAY(SELECT btrim(g) FROM unnest(string_to_array(genres, '|')) g WHERE btrim(g) <> '') END"""


@dataclass
class Moved:
    distinct: int  # good rows after de-duplication (the file's contents)
    written: int  # rows inserted or updated in the table
    deleted: int = 0  # movies absent from the file, deleted in replace mode
    before_dedup: int | None = None  # good rows before de-duplication, when it differs from read-bad


def move(conn: Connection, source: SourceFile, staged: Stage, mode: Mode, any_bad: bool) -> Moved:
    """Move the good rows of `staged` (all of them when `any_bad` is false) into their table."""
    where = f"WHERE ({reason_sql(source.kind, source.used, staged.typed)}) IS NULL" if any_bad else ""
    stage = staged.table
    if source.kind == "ratings":
        return _ratings(conn, stage, where, mode)
    if source.kind == "movies":
        return _movies(conn, stage, where, mode)
    if source.kind == "links":
        return _links(conn, stage, where)
    return _tags(conn, source, stage, where, mode)


def _count(conn: Connection, sql: str) -> int:
    return int(conn.execute(text(sql)).scalar_one())


def _ratings(conn: Connection, stage: str, where: str, mode: Mode) -> Moved:
    # Sorted by the primary key, so building the key afterwards reads presorted input; for
    # equal (user, movie) the latest timestamp comes first and DISTINCT ON keeps it.
    select = f"""
        SELECT DISTINCT ON (user_id::int, movie_id::int)
               user_id::int, movie_id::int, rating::real, to_timestamp(ts::bigint)
        FROM {stage} {where}
        ORDER BY user_id::int, movie_id::int, ts::bigint DESC, ctid DESC
    """
    if mode == "replace":
        with without_indexes(conn, "ratings"):
            written = conn.execute(text(f"INSERT INTO ratings (user_id, movie_id, rating, ts) {select}"))
        return Moved(written.rowcount, written.rowcount)
    conn.execute(text(f"CREATE TEMP TABLE clean_ratings ON COMMIT DROP AS {select}"))
    written = conn.execute(
        text(
            """
            INSERT INTO ratings (user_id, movie_id, rating, ts) SELECT * FROM clean_ratings
            ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, ts = excluded.ts
            WHERE excluded.ts > ratings.ts OR (excluded.ts = ratings.ts AND excluded.rating <> ratings.rating)
            """
        )
    )
    return Moved(_count(conn, "SELECT count(*) FROM clean_ratings"), written.rowcount)


def _movies(conn: Connection, stage: str, where: str, mode: Mode) -> Moved:
    conn.execute(
        text(
            f"""
            CREATE TEMP TABLE clean_movies ON COMMIT DROP AS
            SELECT DISTINCT ON (movie_id::int)
                   movie_id::int AS movie_id, btrim(title) AS title, {YEAR} AS year, {GENRES} AS genres
            FROM {stage} {where}
            ORDER BY movie_id::int, ctid DESC
            """
        )
    )
    deleted = delete_absent_movies(conn, "clean_movies") if mode == "replace" else 0
    upserted = conn.execute(
        text(
            """
            INSERT INTO movies (movie_id, title, year, genres) SELECT * FROM clean_movies
            ON CONFLICT (movie_id) DO UPDATE
            SET title = excluded.title, year = excluded.year, genres = excluded.genres
            WHERE (movies.title, movies.year, movies.genres)
                  IS DISTINCT FROM (excluded.title, excluded.year, excluded.genres)
            """
        )
    )
    return Moved(_count(conn, "SELECT count(*) FROM clean_movies"), upserted.rowcount, deleted)


def _links(conn: Connection, stage: str, where: str) -> Moved:
    written = conn.execute(
        text(
            f"""
            INSERT INTO links (movie_id, imdb_id, tmdb_id)
            SELECT DISTINCT ON (movie_id::int) movie_id::int, NULLIF(imdb_id, ''), tmdb_id::int
            FROM {stage} {where}
            ORDER BY movie_id::int, ctid DESC
            ON CONFLICT (movie_id) DO UPDATE SET imdb_id = excluded.imdb_id, tmdb_id = excluded.tmdb_id
            WHERE (links.imdb_id, links.tmdb_id) IS DISTINCT FROM (excluded.imdb_id, excluded.tmdb_id)
            """
        )
    )
    distinct = _count(conn, f"SELECT count(DISTINCT movie_id::int) FROM {stage} {where}")
    return Moved(distinct, written.rowcount)


def _tags(conn: Connection, source: SourceFile, stage: str, where: str, mode: Mode) -> Moved:
    user = "user_id::int" if "user_id" in source.used else "NULL::int"
    ts = "to_timestamp(ts::bigint)" if "ts" in source.used else "NULL::timestamptz"
    conn.execute(
        text(
            f"""
            CREATE TEMP TABLE split_tags ON COMMIT DROP AS
            SELECT movie_id::int AS movie_id, {user} AS user_id, btrim(t) AS tag, {ts} AS ts
            FROM (SELECT * FROM {stage} {where}) s, unnest(string_to_array(s.tag, '|')) t
            WHERE btrim(t) <> ''
            """
        )
    )
    insert = "INSERT INTO tags (movie_id, user_id, tag, ts) SELECT DISTINCT * FROM split_tags"
    if mode == "replace":
        # the emptied table without its keys, built once after: a million rows inserted one index
        # entry and one foreign-key trigger call at a time took 16 s at synthetic 25M, 3 s so;
        # DISTINCT (NULLs equal) is the natural key's NULLS NOT DISTINCT, so it cannot fail
        with without_indexes(conn, "tags"):
            written = conn.execute(text(insert))
    else:
        written = conn.execute(text(insert + " ON CONFLICT (movie_id, user_id, tag, ts) DO NOTHING"))
    distinct = _count(conn, "SELECT count(*) FROM (SELECT DISTINCT * FROM split_tags) d")
    return Moved(distinct, written.rowcount, before_dedup=_count(conn, "SELECT count(*) FROM split_tags"))
