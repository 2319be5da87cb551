"""Ratings written through the API."""

from typing import Annotated

import psycopg
from fastapi import APIRouter, Body, Depends

from service.dependencies import DbDep, require_admin
from service.errors import ApiError
from service.queries.writes import RatingsResult, unknown_movies, upsert_ratings
from service.schemas.common import errors
from service.schemas.ratings import MAX_BATCH, RatingIn, RatingsWritten

router = APIRouter(tags=["ratings"])

Batch = Annotated[list[RatingIn], Body(min_length=1, max_length=MAX_BATCH)]


def _write(conn: psycopg.Connection, batch: list[RatingIn]) -> RatingsResult:
    with conn.transaction():  # all or nothing
        unknown = unknown_movies(conn, [r.movieId for r in batch])
        if unknown:
            raise ApiError(404, "Movie not found", {"movieIds": unknown[:20], "count": len(unknown)})
        return upsert_ratings(conn, [(r.userId, r.movieId, r.rating, r.timestamp) for r in batch])


@router.post(
    "/ratings",
    status_code=201,
    response_model=RatingsWritten,
    dependencies=[Depends(require_admin)],
    responses=errors(400, 401, 403, 404, 422, 503),
)
def add_ratings(batch: Batch, db: DbDep) -> RatingsWritten:
    """Add or replace ratings (admin), all or nothing; they count in user recommendations at once."""
    with db.connection() as conn:
        result = _write(conn, batch)
    return RatingsWritten(
        received=result.received,
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.received - result.inserted - result.updated,
    )
