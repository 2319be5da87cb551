"""Ratings written through the API."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from service.dependencies import async_pool_of, require_admin
from service.errors import ApiError
from service.queries.writes import UnknownMovies, upsert_ratings
from service.schemas.common import errors
from service.schemas.ratings import MAX_BATCH, RatingIn, RatingsWritten

router = APIRouter(tags=["ratings"])

Batch = Annotated[list[RatingIn], Body(min_length=1, max_length=MAX_BATCH)]


# `async def` on the asyncio pool, like the reads it competes with: a stream of ratings under
# read load no longer queues for the threadpool and the small sync pool (benchmarks/freshness.py).
@router.post(
    "/ratings",
    status_code=201,
    response_model=RatingsWritten,
    dependencies=[Depends(require_admin)],
    responses=errors(400, 401, 403, 404, 422, 503),
)
async def add_ratings(batch: Batch, request: Request) -> RatingsWritten:
    """Add or replace ratings (admin), all or nothing; they count in user recommendations at once."""
    rows = [(r.userId, r.movieId, r.rating, r.timestamp) for r in batch]
    try:
        async with async_pool_of(request).connection() as conn:
            result = await upsert_ratings(conn, rows)
    except UnknownMovies as unknown:
        ids = unknown.movie_ids
        raise ApiError(404, "Movie not found", {"movieIds": ids[:20], "count": len(ids)}) from None
    return RatingsWritten(
        received=result.received,
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.received - result.inserted - result.updated,
    )
