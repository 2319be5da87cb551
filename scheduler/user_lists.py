"""Recluster write step: every user's default ranking, precomputed into user_recommendations.

The default /recommend/user ranking (ease, defined in ranking/__init__.py) per request is tens
of thousands of rows for a heavy user, ~20x the cost of a primary-key lookup. Here it is
computed once per version for every user with ranking/users.py, the code the refresh of
just-rated users (scheduler/refresh.py) runs too. The version records the snapshot the ratings
were read under (model_versions.ratings_snapshot); the API serves a user's row only while no
change to their ratings has committed outside that snapshot (user_rating_changes, kept by
triggers), or the row was refreshed after their last change.

Memory: all ratings as numpy columns (18 bytes each: ~450 MB at 25M) plus what the ranker
holds (ranking/users.py).
"""

import time

import numpy as np
from sqlalchemy import Connection, text, update

from cinecluster.tables import model_versions
from ranking.users import Ranker, Ratings, UserLists, ratings_from
from scheduler.copyio import Column, Ragged
from scheduler.item_knn import log_popularity
from scheduler.versions import WriteContext, copy_partition

_RATING_ROW = np.dtype([("user", ">i4"), ("movie", ">i4"), ("half_stars", ">i2"), ("micros", ">i8")])
# The snapshot comes from the same statement: the rankings are exactly as current as it.
_PACKED_RATINGS = text(
    """
    SELECT pg_current_snapshot()::text,
           string_agg(int4send(user_id) || int4send(movie_id) || int2send((rating * 2)::int2)
                      || int8send((extract(epoch FROM ts) * 1000000)::int8), ''::bytea)
    FROM ratings
    GROUP BY user_id / 1024
    """
)


def fetch_ratings(conn: Connection, ids: np.ndarray) -> Ratings:
    """Every rating as numpy columns (packed per 1,024 users by PostgreSQL, decoded by numpy).

    Each intermediate is dropped as soon as it is copied on: at 25M ratings that took this
    function's peak from 2.7 GB to 1.9 GB (the whole run's peak is set here)."""
    packed = conn.execute(_PACKED_RATINGS).all()
    snapshot = (
        packed[0][0] if packed else conn.execute(text("SELECT pg_current_snapshot()::text")).scalar_one()
    )
    chunks = [np.frombuffer(chunk, dtype=_RATING_ROW) for _snapshot, chunk in packed]
    rows = np.concatenate(chunks) if chunks else np.empty(0, dtype=_RATING_ROW)
    del packed, chunks  # copied into rows
    columns = {f: rows[f].astype(np.int64) for f in ("user", "movie", "half_stars", "micros")}
    del rows  # copied into columns
    return ratings_from(columns, ids, snapshot)


def user_lists_step(conn: Connection, context: WriteContext) -> None:
    """Write user_recommendations for the version; metrics['user_recommendations']."""
    if context.item_weights is None:
        raise RuntimeError("user_lists_step runs after item_model_step (it needs the item weights)")
    start = time.perf_counter()
    ids = context.features.movie_ids
    ratings = fetch_ratings(conn, ids)
    ranker = Ranker(context.item_weights, context.fit.labels, log_popularity(conn, ids))
    lists, shares = ranker.rank(ratings)
    lists = lists.without(ratings.stale[lists.user])
    write_user_lists(
        conn, context.version, ids, ratings.users[lists.user], lists, shares[lists.user], ratings.snapshot
    )
    n = len(lists.user)
    context.metrics["user_recommendations"] = {
        "users": n,
        "entries": len(lists.movie),
        "seconds": round(time.perf_counter() - start, 2),
    }


LIST_COLUMNS = ["version", "user_id", "movie_ids", "scores", "source_ids", "cluster_shares"]


def list_columns(
    version: int, ids: np.ndarray, users: np.ndarray, lists: UserLists, shares: np.ndarray
) -> list[Column]:
    """user_recommendations' LIST_COLUMNS for the listed users (users: the id of each listed
    user; shares: one row per listed user)."""
    n = len(users)
    n_clusters = shares.shape[1]
    return [
        ("int4", np.full(n, version)),
        ("int4", users),
        ("int4", Ragged(ids[lists.movie], lists.offsets)),
        ("float8", Ragged(lists.score, lists.offsets)),
        ("int4", Ragged(ids[lists.source], lists.offsets)),
        ("float8", Ragged(shares.ravel(), np.arange(n + 1) * n_clusters)),
    ]


def write_user_lists(
    conn: Connection,
    version: int,
    ids: np.ndarray,
    users: np.ndarray,
    lists: UserLists,
    shares: np.ndarray,
    snapshot: str,
) -> None:
    """COPY the lists and record the snapshot the ratings were read under; inside the caller's
    transaction."""
    copy_partition(
        conn, "user_recommendations", version, LIST_COLUMNS, list_columns(version, ids, users, lists, shares)
    )
    record_snapshot(conn, version, snapshot)


def record_snapshot(conn: Connection, version: int, snapshot: str) -> None:
    """model_versions.ratings_snapshot: the API serves a stored list only to users whose ratings
    have not changed outside it."""
    conn.execute(
        update(model_versions).where(model_versions.c.version == version).values(ratings_snapshot=snapshot)
    )
