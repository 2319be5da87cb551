"""Parameters of the item-table user rankings (ease, liked_neighbours), shared by both halves.

The recluster job ranks every user in numpy (scheduler/user_lists.py, and the holdout check in
scheduler/quality.py); the API ranks live in SQL (service/recommenders/weighted.py)
when a stored list is out of date. Both read these, so they cannot drift apart. Light on
purpose: the API imports it without pulling in scikit-learn. docs/evaluation.md has the sweep.
"""

TOP_N = 50  # co-rating neighbours stored per movie (item_neighbours)
PROFILE_CAP = 500  # most recent liked movies per user; NDCG is unchanged at 500, cost is bounded
W_AFFINITY = 0.1  # + share of the user's liked movies in the candidate's cluster
W_POPULARITY = 0.05  # + ln(1 + ratings) over the candidates' maximum
LIST_LENGTH = 100  # movies stored per user: the API's largest n, so any first page is stored
