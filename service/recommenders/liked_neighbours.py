"""`liked_neighbours`: movies that people who liked what you liked also liked.

The co-rating neighbours (item_neighbours: the cosine of two movies' liked-by vectors, top 50
per movie) summed over the user's liked movies, ranked with the shared formula of
service/recommenders/weighted.py. The default before the EASE item model (docs/evaluation.md
compares them); ranked live per request. Its per-movie lists are the `co_liked`
/recommend/movie strategy.
"""

from typing import Any

from service.recommenders.weighted import ItemTable, WeightedRanking


def _reason(source: str | None, cluster: int | None, share: float) -> str:
    liked = source or "movies you liked"
    where = f"cluster {cluster}" if cluster is not None else "no cluster yet"
    return f"liked by people who liked {liked}; {where} ({share:.0%} of your liked movies)"


def _movie_reason(row: Any) -> str:
    return f"liked by {row.co_likes} of the same users; cluster {row.cluster}"


RANKING = WeightedRanking(ItemTable("item_neighbours", "similarity", _reason, _movie_reason))


def recommend(
    conn: Any,
    user_id: int,
    *,
    n: int,
    offset: int,
    genre: str | None,
    version: int,
    seed: int | None = None,
) -> list[Any]:
    """The co-rating ranking, computed live (the stored lists are the default strategy's)."""
    return RANKING.live(conn, user_id, n=n, offset=offset, genre=genre, version=version)


similar = RANKING.similar
similar_page = RANKING.similar_page
