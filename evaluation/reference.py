"""The collaborative-filtering bar: item-kNN on all co-ratings (binary cosine, 50 neighbours).

Computed in numpy from the training split with the same sparse code as the recluster job's
table (scheduler/co_likes.py), but over every rated pair instead of liked ones, and scored
from every rated movie: the plain textbook item-kNN the issue quotes (0.079 on ml-latest-small).
"""

import numpy as np

from scheduler.co_likes import liked_matrix, top_neighbours


def item_knn_lists(
    users: np.ndarray, movies: np.ndarray, catalogue: np.ndarray, k: int, top_n: int = 50
) -> dict[int, list[int]]:
    """Top-k unseen movies per training user; `catalogue` = sorted movie ids."""
    keep = np.isin(movies, catalogue)
    users, movie_idx = users[keep], np.searchsorted(catalogue, movies[keep])
    rated = liked_matrix(users, movie_idx, len(catalogue))  # users renumbered in sorted order
    similar = top_neighbours(rated, top_n).as_matrix(len(catalogue))
    scores = (rated @ similar).tocsr()
    lists: dict[int, list[int]] = {}
    for row, user in enumerate(np.unique(users)):
        start, stop = scores.indptr[row], scores.indptr[row + 1]
        cols, vals = scores.indices[start:stop], scores.data[start:stop]
        unseen = ~np.isin(cols, rated.indices[rated.indptr[row] : rated.indptr[row + 1]])
        cols, vals = cols[unseen], vals[unseen]
        best = np.lexsort((cols, -vals))[:k]
        lists[int(user)] = catalogue[cols[best]].tolist()
    return lists
