"""The one definition of the default user ranking, and its parameters.

For one user, from their ratings and a model version's item table (item_weights: the item
model; item_neighbours: co-rating cosines, for liked_neighbours):

  order of a user's ratings: newest first (time, then movie id, both descending); a rating's
            recency r is its position in that order (0 = the newest), any rating counted
  liked   = ratings >= 4 or >= the user's own mean                          (ranking/liked.py)
  profile = the user's latest PROFILE_CAP liked movies, each weighted RECENCY[min(r, last)]
            (0.4 + 0.6 * 0.5^(r / 5): the last few ratings say most about what comes next)
  sum     = sum of profile weight x the table's weight, over movies the user has not rated
  recent  = the user's SEQUENCE_RECENT newest ratings (any rating), weighted SEQUENCE_DECAY[r]
  next    = sum of recent weight x item_successors' weight (what people rate next after it),
            over movies the user has not rated (the next-movie component; 0 without successors)
  candidates = the movies whose sum or next is positive
  score   = sum / the user's best sum (1 if none is positive)
            + W_SEQUENCE * next / the user's best next (1 if none is positive)
            + W_AFFINITY * share of the profile in the candidate's cluster
            + W_POPULARITY * ln(1 + ratings of the candidate) / the candidates' maximum
  order   = score descending, then movie id
  source  = when the next term is larger than the sum term: the recent movie with the largest
            successor weight to it ("because you just rated"), else the profile movie with the
            largest table weight to it ("because you liked"); ties: the lower movie id
  after   = when the candidates run out: the most rated movies the user has not rated

Every weight is a multiple of a power of two small enough that each sum is exact in float64
(scheduler/item_model.py), so the order in which numpy and SQL add does not matter.
The co-rating strategy (liked_neighbours) uses the same statement without recency weights and
without the next-movie component.

It is written twice, side by side and tested against each other for every user:
ranking/users.py in numpy (the recluster's stored lists, the refresh of just-rated users, the
Spark partitions, the run's holdout check, and the API's ranking of a just-rated user with the
model it holds: ranking/version_model.py) and the live statement of
service/recommenders/weighted.py in SQL (the API's fallback while it loads a model, for baskets,
pages past the stored list and the co-rating strategy). The liked rule's two forms live
together in ranking/liked.py. This module imports nothing heavy.
"""

TOP_N = 50  # co-rating neighbours stored per movie (item_neighbours)
PROFILE_CAP = 500  # most recent liked movies per user; NDCG is unchanged at 500, cost is bounded
W_AFFINITY = 0.1  # + share of the user's liked movies in the candidate's cluster
W_POPULARITY = 0.05  # + ln(1 + ratings) over the candidates' maximum
LIST_LENGTH = 100  # movies stored per user: the API's largest n, so any first page is stored
W_SEQUENCE = 0.5  # + the next-movie component, normalised like the sum (docs/evaluation.md: the sweep)
SEQUENCE_RECENT = 10  # newest ratings whose successors count
RECENCY_QUANTUM = 2.0**-10  # profile and recent weights are multiples of it (exact sums)


def _quantized(values: list[float]) -> tuple[float, ...]:
    return tuple(round(v / RECENCY_QUANTUM) * RECENCY_QUANTUM for v in values)


# RECENCY[r]: the profile weight of a liked rating of recency r; past the table's end it stays
# at its last entry (0.6 * 0.5^(r / 5) < half a quantum from r = 52 on)
RECENCY = _quantized([0.4 + 0.6 * 0.5 ** (r / 5) for r in range(53)])
SEQUENCE_DECAY = _quantized([0.8**r for r in range(SEQUENCE_RECENT)])  # recent weight by recency
