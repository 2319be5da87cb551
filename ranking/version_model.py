"""A model version's item model read back from PostgreSQL, and users' stored rows ranked with it.

One `VersionModel` per active version, held by the two processes that rank users between runs:
the scheduler's refresh (scheduler/refresh.py: writes the rows to user_recommendations) and the
API's live path (service/recommenders/fresh.py: serves the row it would write, for the second
between a rating and its refresh). Both read the ratings and build the rows here, so the row
the API serves is the row the refresh then stores, bit for bit.

Everything is packed by PostgreSQL (int4send || ...) and decoded by numpy: no Python object per
row (~600k weights at 25M ratings). Memory: movies-sized, ~16 MB at 25M ratings.
Statements take a psycopg connection (inside a SQLAlchemy transaction: its driver connection).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import scipy.sparse as sp

from ranking.users import Ranker, Ratings, ratings_from

_CLUSTERS = """
    SELECT string_agg(int4send(movie_id) || int2send(cluster), ''::bytea ORDER BY movie_id)
    FROM movie_clusters WHERE version = %(v)s
"""
_WEIGHTS = """
    SELECT string_agg(int4send(movie_id) || int4send(neighbour_id) || float4send(weight)
                      || float8send(neighbour_log_pop), ''::bytea)
    FROM item_weights WHERE version = %(v)s
    GROUP BY movie_id / 256
"""
_SUCCESSORS = """
    SELECT string_agg(int4send(movie_id) || int4send(successor_id) || float4send(weight)
                      || float8send(successor_log_pop), ''::bytea)
    FROM item_successors WHERE version = %(v)s
    GROUP BY movie_id / 256
"""
_CLUSTER_ROW = np.dtype([("movie", ">i4"), ("cluster", ">i2")])
_WEIGHT_ROW = np.dtype([("movie", ">i4"), ("neighbour", ">i4"), ("weight", ">f4"), ("log_pop", ">f8")])

# The ratings of some users, packed: what the rows are ranked from.
PACKED_RATINGS = """
    SELECT string_agg(int4send(user_id) || int4send(movie_id) || int2send((rating * 2)::int2)
                      || int8send((extract(epoch FROM ts) * 1000000)::int8), ''::bytea)
    FROM ratings WHERE user_id = ANY(CAST({users} AS integer[]))
"""
_RATING_ROW = np.dtype([("user", ">i4"), ("movie", ">i4"), ("half_stars", ">i2"), ("micros", ">i8")])


@dataclass
class VersionModel:
    """What ranking a user for `version` needs: its movies, their clusters, the item model."""

    version: int
    ids: np.ndarray  # the version's movie ids, ascending (movie index -> id)
    ranker: Ranker


@dataclass(frozen=True)
class UserRow:
    """A user's row of user_recommendations, as lists (empty: the ranking had no candidates, or
    the user rated a movie the version has no cluster for; then the API ranks in SQL)."""

    movie_ids: list[int]
    scores: list[float]
    source_ids: list[int]  # negative: owed to a recent rating (the next-movie component)
    cluster_shares: list[float]


EMPTY_ROW = UserRow([], [], [], [])


def load_model(conn: psycopg.Connection, version: int) -> VersionModel:
    """The version's item model as the run's Ranker had it (same weights, clusters, popularity)."""
    packed = conn.execute(_CLUSTERS, {"v": version}).fetchone()
    clusters = np.frombuffer((packed and packed[0]) or b"", dtype=_CLUSTER_ROW)
    ids = clusters["movie"].astype(np.int64)
    log_pop = np.zeros(len(ids))  # only candidates (some movie's neighbours) need it
    weights = _item_table(conn, _WEIGHTS, version, ids, log_pop)
    successors = _item_table(conn, _SUCCESSORS, version, ids, log_pop)
    labels = clusters["cluster"].astype(np.int64)
    return VersionModel(version, ids, Ranker(weights, labels, log_pop, successors=successors))


def _item_table(
    conn: psycopg.Connection, query: str, version: int, ids: np.ndarray, log_pop: np.ndarray
) -> sp.csr_matrix:
    """A movie x movie table of the version (item_weights, item_successors); fills in the
    log_pop of the movies it points to."""
    chunks = [np.frombuffer(c, dtype=_WEIGHT_ROW) for (c,) in conn.execute(query, {"v": version})]
    rows = np.concatenate(chunks) if chunks else np.empty(0, dtype=_WEIGHT_ROW)
    source, neighbour = np.searchsorted(ids, rows["movie"]), np.searchsorted(ids, rows["neighbour"])
    n = len(ids)
    log_pop[neighbour] = rows["log_pop"]
    return sp.csr_matrix((rows["weight"].astype(np.float64), (source, neighbour)), shape=(n, n))


def read_ratings(conn: psycopg.Connection, users: list[int]) -> bytes:
    """The users' ratings, packed (decoded by `user_rows`)."""
    row = conn.execute(PACKED_RATINGS.format(users="%(users)s"), {"users": users}).fetchone()
    return (row and row[0]) or b""


def user_rows(model: VersionModel, packed: bytes, length: int | None = None) -> dict[int, UserRow]:
    """Each user with ratings in `packed` ranked: their row of user_recommendations (with
    `length`, its first `length` entries)."""
    rows = np.frombuffer(packed, dtype=_RATING_ROW)
    columns = {f: rows[f].astype(np.int64) for f in ("user", "movie", "half_stars", "micros")}
    ratings: Ratings = ratings_from(columns, model.ids, "")
    lists, shares = model.ranker.rank(ratings, length=length)
    listed = {int(u): j for j, u in enumerate(lists.user)}
    sources = lists.source_ids(model.ids)
    result: dict[int, UserRow] = {}
    for i, user in enumerate(ratings.users.tolist()):
        j = listed.get(i)
        if ratings.stale[i]:  # a movie the version cannot rank
            result[user] = EMPTY_ROW
        elif j is None:
            result[user] = UserRow([], [], [], shares[i].tolist())
        else:
            part = slice(lists.offsets[j], lists.offsets[j + 1])
            result[user] = UserRow(
                model.ids[lists.movie[part]].tolist(),
                lists.score[part].tolist(),
                sources[part].tolist(),
                shares[i].tolist(),
            )
    return result


def row_params(row: UserRow) -> dict[str, Any]:
    """The row's columns as statement parameters."""
    return {
        "movie_ids": row.movie_ids,
        "scores": row.scores,
        "source_ids": row.source_ids,
        "cluster_shares": row.cluster_shares,
    }
