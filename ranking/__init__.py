"""The one definition of the default user ranking, and its parameters.

For one user, from their ratings and a model version's item table (item_weights: the item
model; item_neighbours: co-rating cosines, for liked_neighbours):

  liked   = ratings >= 4 or >= the user's own mean                          (ranking/liked.py)
  profile = the user's latest PROFILE_CAP liked movies (newest first: time, then movie id)
  sum     = sum of the table's weights from the profile, over movies the user has not rated;
            candidates are the movies whose sum is positive
  score   = sum / the user's best sum
            + W_AFFINITY * share of the profile in the candidate's cluster
            + W_POPULARITY * ln(1 + ratings of the candidate) / the candidates' maximum
  order   = score descending, then movie id; the source of an item is the profile movie with
            the largest weight to it (then the lower movie id)
  after   = when the candidates run out: the most rated movies the user has not rated

It is written twice, side by side and tested against each other for every user:
ranking/users.py in numpy (the recluster's stored lists, the refresh of just-rated users, the
Spark partitions, the run's holdout check) and the live statement of
service/recommenders/weighted.py in SQL (the API's live path for the second between a rating
and its refresh). The liked rule's two forms live together
in ranking/liked.py. This module imports nothing heavy: the API imports the package's SQL half
without numpy's sparse stack.
"""

TOP_N = 50  # co-rating neighbours stored per movie (item_neighbours)
PROFILE_CAP = 500  # most recent liked movies per user; NDCG is unchanged at 500, cost is bounded
W_AFFINITY = 0.1  # + share of the user's liked movies in the candidate's cluster
W_POPULARITY = 0.05  # + ln(1 + ratings) over the candidates' maximum
LIST_LENGTH = 100  # movies stored per user: the API's largest n, so any first page is stored
