"""`ease` (default): the EASE item model's weights summed over what you liked.

A linear item model fitted by every recluster run on all users' liked ratings
(scheduler/item_model.py, table item_weights): a candidate's score adds up how strongly each of
the user's liked movies predicts it, with negative weights for what such fans tend not to like.
It ranks with the shared formula of service/recommenders/weighted.py (cluster boost,
popularity, the most rated movies after the candidates), and its lists are the ones the
recluster run stores for every user. Chosen by the offline evaluation (docs/evaluation.md):
NDCG@10 0.12 against 0.10 for the co-rating neighbours on the ml-latest-small holdout.
"""

from service.recommenders.weighted import ItemTable, StoredRanking

RANKING = StoredRanking(
    ItemTable(
        "item_weights", "weight", "because you liked", "its fans go on to like it: liked by", next_movie=True
    )
)

recommend = RANKING.recommend
stored = RANKING.stored
live_strategy = RANKING.live_strategy
stored_page = RANKING.stored_page
similar = RANKING.similar
similar_page = RANKING.similar_page
liked_profile = RANKING.liked_profile
