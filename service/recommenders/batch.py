"""POST /recommend/users: the default ranking's first page for many users in a few statements.

Each user's list is what GET /recommend/user/{id} answers (same n, genre and exclude): the
stored list while it is current and holds a full page, else the ranking computed now. The
stored pages of every user come from ONE statement (the single-user statement's rules over an
array of users); only users whose stored list cannot serve (they rated since their list was
ranked, or exclude/genre leave too few) are ranked now one by one, as they would be alone (the
version's model in this process, else the live SQL). Users with no ratings are listed apart.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from service.recommenders import ease
from service.recommenders.skip import allowed, exclude_param, no_skip_by_default
from service.recommenders.types import ListRequest, Recommendation
from service.recommenders.weighted import STORED_PREFIX_POSITIONS, stored_pages_sql
from service.sql import DbConnection, compile_sql, fetch_all, fetch_one

# The active version and, in request order, the requested users with no ratings (primary-key
# probes of ratings: (user_id, movie_id)).
CHECK = compile_sql(
    text(
        """
    SELECT (SELECT a.version FROM active_model a) AS version,
           ARRAY(SELECT b.id FROM unnest(CAST(:ids AS integer[])) WITH ORDINALITY AS b(id, i)
                 WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = b.id)
                 ORDER BY b.i) AS unknown
    """
    )
)

# Per user, the first page: without a genre the single-user statement's prefix of the arrays;
# with one, every position's genres first (as that statement's genre variant), cut per user.
_POSITIONS = {
    False: STORED_PREFIX_POSITIONS,
    True: f"""
        SELECT p.* FROM unnest(u.movie_ids, u.scores, u.source_ids)
                        WITH ORDINALITY AS p(movie_id, score, source_id, position)
        JOIN movies gm ON gm.movie_id = p.movie_id
        WHERE CAST(:genre AS text) = ANY (gm.genres) AND {allowed("gm")}
        ORDER BY p.position LIMIT :n""",
}
# The stored pages of every user in `ids`, ordered by user, then position.
STORED_PAGES = {
    with_genre: no_skip_by_default(
        compile_sql(
            text(
                stored_pages_sql(
                    version=":version",
                    users="u.user_id = ANY (CAST(:ids AS integer[]))",
                    user="u.user_id",
                    positions=positions,
                    page="ORDER BY u.user_id, l.position",
                    with_user=True,
                )
            ),
            prepare=False,
        )
    )
    for with_genre, positions in _POSITIONS.items()
}


@dataclass(frozen=True, slots=True)
class Lists:
    version: int | None  # None: no active model
    users: dict[int, list[Recommendation]]  # known users, in request order
    unknown: list[int]  # users with no ratings, in request order
    live: int  # how many were ranked now (the rest were stored pages)


def recommend_many(
    conn: DbConnection, user_ids: Sequence[int], *, n: int, genre: str | None, exclude: Sequence[int] = ()
) -> Lists:
    """The first page of the default ranking for each user (duplicates answered once)."""
    ids = list(dict.fromkeys(user_ids))
    row = fetch_one(conn, CHECK, {"ids": ids})
    assert row is not None
    version, unknown = row.version, list(row.unknown)
    if version is None:
        return Lists(None, {}, unknown, 0)
    without_ratings = set(unknown)
    known = [u for u in ids if u not in without_ratings]
    params = {"ids": known, "version": version, "genre": genre, "n": n, "offset": 0}
    stored: dict[int, list[Any]] = {u: [] for u in known}
    for r in fetch_all(conn, STORED_PAGES[genre is not None], {**params, "exclude": exclude_param(exclude)}):
        stored[r.user_id].append(r)
    users: dict[int, list[Recommendation]] = {}
    live = 0
    for user in known:
        if len(stored[user]) == n:  # as the single-user route: a full page, else the live ranking
            users[user] = ease.RANKING.rows(stored[user])
        else:
            users[user] = ease.fresh_or_live(conn, user, ListRequest(n, 0, genre, version, exclude=exclude))
            live += 1
    return Lists(version, users, unknown, live)
