"""Recommendation strategies, selectable with `?strategy=`; one module per strategy.

To add one: write `service/recommenders/<name>.py` with a function matching
`types.UserStrategy` (or `types.MovieStrategy`), which is asked a `types.ListRequest`,
register it below, and switch DEFAULT_STRATEGY if it wins the offline evaluation. The API's
`strategy` enum, its default and the OpenAPI schema follow these dicts.
"""

from service.recommenders import cluster, ease, liked_neighbours, neighbours, random_pick
from service.recommenders.types import ListRequest, MovieStrategy, Recommendation, UserStrategy

STRATEGIES: dict[str, UserStrategy] = {
    "ease": ease.recommend,
    "liked_neighbours": liked_neighbours.recommend,
    "cluster": cluster.recommend,
    "random": random_pick.recommend,
}
DEFAULT_STRATEGY = "ease"  # the offline evaluation's winner (docs/evaluation.md)

MOVIE_STRATEGIES: dict[str, MovieStrategy] = {
    "ease": ease.similar,
    "co_liked": liked_neighbours.similar,
    "neighbours": neighbours.similar,
    "random": random_pick.similar,
}
# the item model's rows predict held-out likes better than co-rating neighbours (docs/evaluation.md)
DEFAULT_MOVIE_STRATEGY = "ease"

__all__ = [
    "DEFAULT_MOVIE_STRATEGY",
    "DEFAULT_STRATEGY",
    "MOVIE_STRATEGIES",
    "STRATEGIES",
    "ListRequest",
    "MovieStrategy",
    "Recommendation",
    "UserStrategy",
]
