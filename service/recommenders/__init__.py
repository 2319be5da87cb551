"""Recommendation strategies, selectable with `?strategy=`; one module per strategy.

To add one: write `service/recommenders/<name>.py` with a function matching
`types.UserStrategy` (or `types.MovieStrategy`), register it below, and switch
DEFAULT_STRATEGY if it wins the offline evaluation. The API's `strategy` enum, its default
and the OpenAPI schema follow these dicts.
"""

from service.recommenders import cluster, liked_neighbours, neighbours, random_pick
from service.recommenders.types import MovieStrategy, Recommendation, UserStrategy

STRATEGIES: dict[str, UserStrategy] = {
    "liked_neighbours": liked_neighbours.recommend,
    "cluster": cluster.recommend,
    "random": random_pick.recommend,
}
DEFAULT_STRATEGY = "liked_neighbours"  # the offline evaluation's winner (docs/evaluation.md)

MOVIE_STRATEGIES: dict[str, MovieStrategy] = {
    "co_liked": liked_neighbours.similar,
    "neighbours": neighbours.similar,
    "random": random_pick.similar,
}
# co-rating neighbours predict held-out ratings twice as well as in-cluster ones (docs/evaluation.md)
DEFAULT_MOVIE_STRATEGY = "co_liked"

__all__ = [
    "DEFAULT_MOVIE_STRATEGY",
    "DEFAULT_STRATEGY",
    "MOVIE_STRATEGIES",
    "STRATEGIES",
    "MovieStrategy",
    "Recommendation",
    "UserStrategy",
]
