"""Which similar-movies list does the held-out data support? (/recommend/movie strategies)

Protocol: for each user, the query is their most recent liked training movie (rating >= 4;
ties: highest movie id), as if they had just watched it. Each movie strategy's list for that
movie (the API's own function), minus movies the user rated in training, cut to k, is scored
against the user's held-out ratings, like the user lists. A list that predicts what people
who liked the movie go on to like scores higher.
"""

from collections.abc import Callable

import numpy as np
from sqlalchemy import Connection, text

from evaluation.data import Holdout
from service.recommenders import MOVIE_STRATEGIES, ListRequest, MovieStrategy
from service.recommenders.liked_neighbours import similar as co_liked_similar

QUERY_MOVIES = text(
    """
    SELECT DISTINCT ON (r.user_id) r.user_id, r.movie_id, mc.cluster
    FROM ratings r
    LEFT JOIN movie_clusters mc ON mc.version = :version AND mc.movie_id = r.movie_id
    WHERE r.rating >= 4
    ORDER BY r.user_id, r.ts DESC, r.movie_id DESC
    """
)
FETCH = 100  # enough to leave k after dropping the user's seen movies


def movie_strategies() -> list[tuple[str, MovieStrategy, bool]]:
    listed = [(f"api movie: {name}", fn, name == "random") for name, fn in MOVIE_STRATEGIES.items()]
    if co_liked_similar not in MOVIE_STRATEGIES.values():
        listed.append(("co-rating neighbours (item_neighbours)", co_liked_similar, False))
    return listed  # the default is marked by the report (evaluation/run.py)


def movie_lists(
    conn: Connection,
    strategy: MovieStrategy,
    split: Holdout,
    users: list[int],
    k: int,
    version: int,
    seed: int,
) -> dict[int, list[int]]:
    seen: dict[int, set[int]] = {}
    order = np.argsort(split.train_users, kind="stable")
    for user, movie in zip(split.train_users[order], split.train_movies[order], strict=True):
        seen.setdefault(int(user), set()).add(int(movie))
    wanted = set(users)
    lists: dict[int, list[int]] = {}
    request = ListRequest(FETCH, 0, None, version, seed)
    for row in conn.execute(QUERY_MOVIES, {"version": version}):
        if row.user_id not in wanted:
            continue
        similar = strategy(conn, row.movie_id, row.cluster, request)
        mine = seen.get(row.user_id, set())
        lists[row.user_id] = [r.movie_id for r in similar if r.movie_id not in mine][:k]
    return lists


Runner = Callable[[Connection, MovieStrategy, Holdout, list[int], int, int, int], dict[int, list[int]]]
