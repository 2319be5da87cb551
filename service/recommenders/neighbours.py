"""`neighbours`: similar movies = nearest neighbours inside the movie's cluster.

Read from `movie_neighbours` (top 50 per movie, written by the recluster job). When a page
reaches past them (a genre filter, deep offsets, or a movie added after the last run, which
has none), the list continues with the cluster's best movies by the quality ranking.
"""

from collections.abc import Sized
from typing import Any

from sqlalchemy import text

from service.recommenders.ranking import RANKINGS
from service.recommenders.skip import allowed, exclude_param
from service.recommenders.types import ListRequest, Recommendation
from service.sql import DbConnection, compile_sql, fetch_all, fetch_one

_GENRE = f"(CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres)) AND {allowed('m')}"

NEIGHBOURS = compile_sql(
    text(
        f"""
    SELECT n.neighbour_id AS movie_id, m.title, m.genres, mc.cluster, n.distance, n.rank
    FROM movie_neighbours n
    JOIN movies m ON m.movie_id = n.neighbour_id
    LEFT JOIN movie_clusters mc ON mc.version = n.version AND mc.movie_id = n.neighbour_id
    WHERE n.version = :version AND n.movie_id = :movie_id AND n.neighbour_id <> :movie_id AND {_GENRE}
    ORDER BY n.rank
    LIMIT :n OFFSET :offset
    """
    )
)

# The neighbours listed, and how many movies are hidden (FILL may have to pass over them).
NEIGHBOUR_COUNT = compile_sql(
    text(
        f"""
    SELECT count(*) AS neighbours, (SELECT count(*) FROM movies h WHERE h.hidden) AS hidden
    FROM movie_neighbours n JOIN movies m ON m.movie_id = n.neighbour_id
    WHERE n.version = :version AND n.movie_id = :movie_id AND n.neighbour_id <> :movie_id AND {_GENRE}
    """
    )
)

FILL = compile_sql(
    text(
        f"""
    SELECT c.movie_id, m.title, m.genres, c.score
    FROM unnest(CAST(:ids AS integer[]), CAST(:scores AS float8[])) AS c(movie_id, score)
    JOIN movies m ON m.movie_id = c.movie_id
    WHERE c.movie_id <> :movie_id AND {_GENRE}
      AND NOT EXISTS (SELECT 1 FROM movie_neighbours n
                      WHERE n.version = :version AND n.movie_id = :movie_id AND n.neighbour_id = c.movie_id)
    ORDER BY c.score DESC, c.movie_id
    LIMIT :n OFFSET :offset
    """
    ),
    prepare=False,
)

MAX_NEIGHBOURS = 50


def nearest(row: Any) -> Recommendation:
    """A movie_neighbours row (movie_id, title, genres, cluster, distance, rank) as an item."""
    return Recommendation.from_row(
        row,
        score=1.0 / (1.0 + float(row.distance)),
        reason=f"nearest neighbour #{row.rank} in cluster {row.cluster}",
    )


def similar(
    conn: DbConnection, movie_id: int, cluster: int | None, request: ListRequest
) -> list[Recommendation]:
    n, offset = request.n, request.offset
    params: dict[str, object] = {
        "version": request.version,
        "movie_id": movie_id,
        "genre": request.genre,
        "exclude": exclude_param(request.exclude),
    }
    rows = fetch_all(conn, NEIGHBOURS, {**params, "n": n, "offset": offset})
    result = [nearest(r) for r in rows]
    if len(result) == n or cluster is None:
        return result
    return result + _fill(conn, params, cluster, n - len(result), offset)


def _fill(
    conn: DbConnection, params: dict[str, object], cluster: int, need: int, offset: int
) -> list[Recommendation]:
    """The page continues past the neighbours with the cluster's best-ranked movies."""
    counted = fetch_one(conn, NEIGHBOUR_COUNT, params)
    assert counted is not None
    fill_offset = max(0, offset - int(counted.neighbours))
    ranking = RANKINGS.get(conn, int(params["version"])).get(cluster)  # type: ignore[call-overload]  # an int, from similar()
    if ranking is None:
        return []
    # the page's end, past what FILL removes: the neighbours, the movie itself, the excluded
    # and the hidden
    excluded: Sized = params["exclude"]  # type: ignore[assignment]  # a list, from similar()
    removed = MAX_NEIGHBOURS + 1 + len(excluded) + int(counted.hidden)
    take = len(ranking.ids) if params["genre"] else fill_offset + need + removed
    rows = fetch_all(
        conn,
        FILL,
        {
            **params,
            "ids": ranking.ids[:take].tolist(),
            "scores": ranking.scores[:take].tolist(),
            "n": need,
            "offset": fill_offset,
        },
    )
    return [
        Recommendation.from_row(
            r, cluster=cluster, score=r.score, reason=f"popular in the same cluster {cluster}"
        )
        for r in rows
    ]
