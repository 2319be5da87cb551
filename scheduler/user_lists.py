"""Recluster write step: every user's default ranking, precomputed into user_recommendations.

The default /recommend/user ranking (ease, defined in ranking/__init__.py) per request is tens
of thousands of rows for a heavy user, ~20x the cost of a primary-key lookup. Here it is
computed once per version for every user with ranking/users.py, the code the refresh of
just-rated users (scheduler/refresh.py) runs too. The version records the snapshot the ratings
were read under (model_versions.ratings_snapshot); the API serves a user's row only while no
change to their ratings has committed outside that snapshot (user_rating_changes, kept by
triggers), or the row was refreshed after their last change.

Memory: the run's ratings, read once for all steps (scheduler/ratings.py: ~10 bytes each),
plus a block of users at a time in the ranker (ranking/users.py) and the finished lists.
"""

import time

import numpy as np
from sqlalchemy import Connection, update

from cinecluster.tables import model_versions
from ranking.users import Ranker, UserLists
from scheduler.copyio import Column, Ragged
from scheduler.item_tables import run_log_popularity
from scheduler.ratings import run_ratings
from scheduler.versions import WriteContext, copy_partition


def user_lists_step(conn: Connection, context: WriteContext) -> None:
    """Write user_recommendations for the version; metrics['user_recommendations']."""
    if context.item_weights is None:
        raise RuntimeError("user_lists_step runs after item_model_step (it needs the item weights)")
    start = time.perf_counter()
    ids = context.features.movie_ids
    ratings = run_ratings(conn, context).ratings
    context.ratings = context.trained = None  # the last step that reads them: freed once ranked
    ranker = Ranker(
        context.item_weights,
        context.fit.labels,
        run_log_popularity(conn, context),
        successors=context.item_successors,
    )
    lists, shares = ranker.rank(ratings, threads=context.threads)
    lists = lists.without(ratings.stale[lists.user])
    users, snapshot = ratings.users[lists.user], ratings.snapshot
    del ratings  # before the lists are encoded
    write_user_lists(conn, context.version, ids, users, lists, shares[lists.user], snapshot)
    n = len(lists.user)
    context.metrics["user_recommendations"] = {
        "users": n,
        "entries": len(lists.movie),
        "seconds": round(time.perf_counter() - start, 2),
    }


# users encoded per COPY chunk: ~1M list entries, tens of MB (all 162k users at once encoded
# ~1.5 GB of row bytes and set the run's memory peak; benchmarks/recluster.py)
LIST_CHUNK = 10_000
LIST_COLUMNS = ["version", "user_id", "movie_ids", "scores", "source_ids", "cluster_shares"]


def list_columns(
    version: int, ids: np.ndarray, users: np.ndarray, lists: UserLists, shares: np.ndarray
) -> list[Column]:
    """user_recommendations' LIST_COLUMNS for the listed users (users: the id of each listed
    user; shares: one row per listed user)."""
    n = len(users)
    n_clusters = shares.shape[1]
    ids = ids.astype(np.int32)  # int4 as stored: the lists' columns at half the memory of int64
    return [
        ("int4", np.full(n, version)),
        ("int4", users),
        ("int4", Ragged(ids[lists.movie], lists.offsets)),
        ("float8", Ragged(lists.score, lists.offsets)),
        ("int4", Ragged(lists.source_ids(ids), lists.offsets)),
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
    columns = list_columns(version, ids, users, lists, shares)
    copy_partition(conn, "user_recommendations", version, LIST_COLUMNS, columns, chunk_rows=LIST_CHUNK)
    record_snapshot(conn, version, snapshot)


def record_snapshot(conn: Connection, version: int, snapshot: str) -> None:
    """model_versions.ratings_snapshot: the API serves a stored list only to users whose ratings
    have not changed outside it."""
    conn.execute(
        update(model_versions).where(model_versions.c.version == version).values(ratings_snapshot=snapshot)
    )
