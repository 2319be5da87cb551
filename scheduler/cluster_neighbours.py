"""Top-N nearest neighbours of every movie inside its own cluster, in bounded memory.

Exact brute force per cluster (scikit-learn's chunked pairwise-distance top-k, multi-threaded):
measured faster here than KD/ball trees (22 dimensions) and than a float32 GEMM + argpartition,
and exact. Cost grows with the sum of squared cluster sizes; memory with QUERY_CHUNK.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

TOP_N = 50
QUERY_CHUNK = 4096  # rows queried at once: memory ~ chunk x (TOP_N + 1), not n x n


@dataclass
class Neighbours:
    """Flat arrays, one entry per (movie, rank); indices point into the fitted matrix rows."""

    query: np.ndarray
    rank: np.ndarray
    neighbour: np.ndarray
    distance: np.ndarray


def in_cluster_neighbours(scaled: np.ndarray, labels: np.ndarray, top_n: int = TOP_N) -> Neighbours:
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        k = min(top_n, len(members) - 1)
        if k < 1:
            continue
        index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(scaled[members])
        for start in range(0, len(members), QUERY_CHUNK):
            rows = members[start : start + QUERY_CHUNK]
            dist, idx = index.kneighbors(scaled[rows])
            idx = members[idx]
            # drop the movie itself; with duplicate points it may not be in column 0
            not_self = idx != rows[:, None]
            keep = not_self & (np.cumsum(not_self, axis=1) <= k)
            q = np.repeat(rows, k)
            parts.append((q, np.tile(np.arange(1, k + 1), len(rows)), idx[keep], dist[keep]))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return Neighbours(empty, empty, empty, np.empty(0))
    query, rank, neighbour, distance = (np.concatenate(p) for p in zip(*parts, strict=True))
    return Neighbours(query=query, rank=rank, neighbour=neighbour, distance=distance)
