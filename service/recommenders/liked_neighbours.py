"""`liked_neighbours`: movies that people who liked what you liked also liked.

The co-rating neighbours (item_neighbours: the cosine of two movies' liked-by vectors, top 50
per movie) summed over the user's liked movies, ranked with the shared formula of
service/recommenders/weighted.py. The default before the EASE item model (docs/evaluation.md
compares them); ranked live per request. Its per-movie lists are the `co_liked`
/recommend/movie strategy.
"""

from service.recommenders.weighted import ItemTable, WeightedRanking

RANKING = WeightedRanking(ItemTable("item_neighbours", "similarity", "liked by people who liked", "liked by"))


recommend = RANKING.live  # live: the stored lists are the default strategy's
similar = RANKING.similar
similar_page = RANKING.similar_page
