"""Movies a list must leave out besides its own rules: hidden movies and the request's `exclude` ids.

Hidden movies (`movies.hidden`, set by PATCH /movies/{id}) are read per statement, so hiding
one takes effect at once everywhere, stored lists included, with no recluster; they still count
in training. Both kinds are removed from a ranking after it is scored, just before paging, so
the rest keep their order and their scores (removing a candidate earlier would change the
normalisations of the live ranking) and a page stays full. Two forms, for the two kinds of statement:

  SKIP_CTE + skipped(id)  - statements that page before joining movies (the hot paths): the ids
                            as one array, read once per statement;
  allowed(alias)          - statements that join movies before paging anyway.
"""

import dataclasses
from collections.abc import Sequence

from service.sql import Query

# the hidden movies through their partial index (ix_movies_hidden): a few entries, not a scan
SKIP_CTE = (
    "skip AS MATERIALIZED (SELECT ARRAY(SELECT h.movie_id FROM movies h WHERE h.hidden)"
    " || CAST(:exclude AS integer[]) AS ids)"
)
SKIP_COUNT = "(SELECT cardinality(ids) FROM skip)"  # how many a prefix may lose to the skip list


def skipped(movie_id: str) -> str:
    """True when the movie id expression is in the skip list (needs SKIP_CTE in the statement)."""
    # the cast makes ANY read the array the subquery returns, not the subquery's rows
    return f"({movie_id} = ANY (CAST((SELECT ids FROM skip) AS integer[])))"


def allowed(movies: str) -> str:
    """A condition on a `movies` row: not hidden, not excluded by the request."""
    return f"(NOT {movies}.hidden AND {movies}.movie_id <> ALL (CAST(:exclude AS integer[])))"


def exclude_param(exclude: Sequence[int]) -> list[int]:
    """The `:exclude` parameter: a list psycopg sends as one array."""
    return list(exclude)


def no_skip_by_default(query: Query) -> Query:
    """The statement with `:exclude` defaulting to none, for callers that exclude nothing."""
    return dataclasses.replace(query, defaults={**query.defaults, "exclude": []})  # never mutated
