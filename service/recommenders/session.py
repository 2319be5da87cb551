"""POST /recommend/session: the default ranking for a profile that comes with the request.

A visitor without an account sends the movies of their session or basket; they are ranked by
the very statement that ranks a user live (weighted.RATED_FROM["basket"] feeds its `rated`
CTE from the request instead of the ratings table), so any change to the ranking definition
reaches the session route too. Nothing is written.

A bare list of movie ids means every movie is liked (all get the same stars, so each is at the
visitor's mean) and the list is in time order: the last id is the newest, which the ranking's
recency weights and next-movie component read. Ratings with timestamps say it themselves; a
rating without one is taken as given now (as POST /ratings does), those in list order. A movie
given twice counts once: its newest rating (the later one on equal times).
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from ranking.liked import LIKED_STARS
from service.recommenders import ease
from service.recommenders.types import ListRequest, Recommendation
from service.sql import DbConnection, compile_sql, fetch_one

# The active version and the basket's unknown movies, in one round trip.
CHECK = compile_sql(
    text(
        """
    SELECT (SELECT a.version FROM active_model a) AS version,
           ARRAY(SELECT DISTINCT b.id FROM unnest(CAST(:ids AS integer[])) AS b(id)
                 WHERE NOT EXISTS (SELECT 1 FROM movies m WHERE m.movie_id = b.id)
                 ORDER BY b.id) AS unknown
    """
    )
)


@dataclass(frozen=True, slots=True)
class Basket:
    movie_ids: list[int]
    ratings: list[float]
    epochs: list[float]  # Unix seconds

    @classmethod
    def of_movie_ids(cls, movie_ids: Sequence[int]) -> "Basket":
        position = {movie_id: i for i, movie_id in enumerate(movie_ids)}  # the last occurrence
        ids = list(position)
        return cls(ids, [LIKED_STARS] * len(ids), [float(position[m]) for m in ids])

    @classmethod
    def of_ratings(cls, rows: Sequence[tuple[int, float, int | None]]) -> "Basket":
        now = time.time()
        newest: dict[int, tuple[float, int, float]] = {}  # movie -> (time, position, rating)
        for i, (movie_id, rating, timestamp) in enumerate(rows):
            # without a time: now, a millisecond apart in list order (the ranking orders by time)
            at = now + i / 1000 if timestamp is None else float(timestamp)
            seen = (at, i, rating)
            newest[movie_id] = max(newest.get(movie_id, seen), seen)
        ids = list(newest)
        return cls(ids, [newest[m][2] for m in ids], [newest[m][0] for m in ids])

    def params(self) -> dict[str, list[Any]]:
        return {"basket_ids": self.movie_ids, "basket_ratings": self.ratings, "basket_epochs": self.epochs}


def check(conn: DbConnection, basket: Basket) -> tuple[int | None, list[int]]:
    """(the active version or None, the basket's movie ids the database does not know)."""
    row = fetch_one(conn, CHECK, {"ids": basket.movie_ids})
    assert row is not None
    return row.version, list(row.unknown)


def recommend(conn: DbConnection, basket: Basket, request: ListRequest) -> list[Recommendation]:
    """The default ranking (ease) of the basket; an empty one gets the most rated movies."""
    return ease.RANKING.for_basket(conn, basket.params(), request)
