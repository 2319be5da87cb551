"""`ease` (default; the name of its first item model): the item model's weights summed over
what you liked, plus what people rate next after your newest ratings.

A linear item model (DLAE by default, EASE on request) fitted by every recluster run on all
users' liked ratings (scheduler/item_model.py, table item_weights): a candidate's score adds up
how strongly each liked movie predicts it, the newest weighing most, with negative weights for
what such fans tend not to like; and the next-movie component (scheduler/sequence.py, table
item_successors). It ranks with the shared definition (ranking/__init__.py; SQL in
service/recommenders/weighted.py: cluster boost, popularity, the most rated movies after the
candidates), and its lists are the ones the recluster run stores for every user. Chosen by the
offline evaluation on three splits (docs/evaluation.md).
"""

from service.recommenders.weighted import ItemTable, StoredRanking

RANKING = StoredRanking(
    ItemTable(
        "item_weights", "weight", "because you liked", "its fans go on to like it: liked by", next_movie=True
    )
)

recommend = RANKING.recommend
stored = RANKING.stored
live = RANKING.live
fresh_or_live = RANKING.fresh_or_live
fresh = RANKING.fresh
fresh_page = RANKING.fresh_page
stored_page = RANKING.stored_page
similar = RANKING.similar
similar_page = RANKING.similar_page
liked_profile = RANKING.liked_profile
