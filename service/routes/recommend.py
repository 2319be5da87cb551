"""Recommendations: similar movies and movies for a user, ranked and deterministic."""

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cinecluster.activation import active_version
from service.database import Pool
from service.dependencies import async_pool_of, movie_or_404, pool_of, require_version
from service.errors import not_found
from service.queries.users import get_user
from service.recommenders import (
    DEFAULT_MOVIE_STRATEGY,
    DEFAULT_STRATEGY,
    MOVIE_STRATEGIES,
    STRATEGIES,
    ListRequest,
    ease,
    liked_neighbours,
)
from service.schemas.common import GenreQuery, MovieIdPath, UserIdPath, errors
from service.schemas.list_query import (
    ExcludeQuery,
    Fallback,
    FallbackQuery,
    N,
    RecOffset,
    Seed,
    parse_exclude,
)
from service.schemas.recommend import RecommendationOut, recommendations_response

router = APIRouter(prefix="/recommend", tags=["recommendations"])

# Members from the registries (mypy types only enums whose members are written out)
UserStrategyName = StrEnum("UserStrategyName", {name: name for name in STRATEGIES})  # type: ignore[misc]  # see above
MovieStrategyName = StrEnum("MovieStrategyName", {name: name for name in MOVIE_STRATEGIES})  # type: ignore[misc]  # see above

# The one-statement hot path of /recommend/movie, for the strategies read from an item table.
HOT_SIMILAR = {"ease": ease.similar_page, "co_liked": liked_neighbours.similar_page}


@router.get("/movie/{movie_id}", response_model=list[RecommendationOut], responses=errors(404, 422, 503))
async def recommend_for_movie(
    movie_id: MovieIdPath,
    request: Request,
    n: N = 5,
    offset: RecOffset = 0,
    genre: GenreQuery = None,
    strategy: Annotated[
        MovieStrategyName,
        Query(
            description="`ease` (default): the item model's strongest links; `co_liked`: liked by the"
            " same users; `neighbours`: nearest in the cluster; `random`: the team's sample."
        ),
    ] = MovieStrategyName(DEFAULT_MOVIE_STRATEGY),
    seed: Seed = None,
    exclude: ExcludeQuery = None,
) -> Response:
    """Movies similar to this one (never itself): by default the item model's strongest links."""
    skip = parse_exclude(exclude)
    hot = HOT_SIMILAR.get(strategy.value)
    if hot is not None:  # hot path: one statement, no threadpool hop
        async with async_pool_of(request).connection() as conn:
            fast = await hot(conn, movie_id, n=n, offset=offset, genre=genre, exclude=skip)
        if fast is not None:
            return recommendations_response(fast)
    return await run_in_threadpool(
        _similar_full, pool_of(request), movie_id, n, offset, genre, strategy.value, seed, skip
    )


def _similar_full(
    db: Pool,
    movie_id: int,
    n: int,
    offset: int,
    genre: str | None,
    strategy: str,
    seed: int | None,
    exclude: tuple[int, ...],
) -> Response:
    """Any strategy, any page, with the 404/503 checks: the full path, on the sync pool."""
    with db.connection() as conn:
        movie = movie_or_404(conn, movie_id)
        request = ListRequest(n, offset, genre, require_version(movie.version), seed, exclude)
        recs = MOVIE_STRATEGIES[strategy](conn, movie.movie_id, movie.cluster, request)
    return recommendations_response(recs)


@router.get("/user/{user_id}", response_model=list[RecommendationOut], responses=errors(404, 422, 503))
async def recommend_for_user(
    user_id: UserIdPath,
    request: Request,
    n: N = 5,
    offset: RecOffset = 0,
    genre: GenreQuery = None,
    strategy: Annotated[
        UserStrategyName, Query(description="Ranking strategy; `random` is the team's original sample.")
    ] = UserStrategyName(DEFAULT_STRATEGY),
    seed: Seed = None,
    exclude: ExcludeQuery = None,
    fallback: FallbackQuery = None,
) -> Response:
    """Movies for a user, never one they rated: by default ranked by the item model (EASE)."""
    skip = parse_exclude(exclude)
    if strategy.value == DEFAULT_STRATEGY:  # hot path: the stored list in one statement
        async with async_pool_of(request).connection() as conn:
            fast = await ease.stored_page(conn, user_id, n=n, offset=offset, genre=genre, exclude=skip)
            if fast is None:  # rated since their row was stored: ranked now, if the model is here
                fast = await ease.fresh_page(conn, user_id, n=n, offset=offset, genre=genre, exclude=skip)
        if fast is not None:
            return recommendations_response(fast)
    return await run_in_threadpool(
        _for_user_full, pool_of(request), user_id, n, offset, genre, strategy.value, seed, skip, fallback
    )


def _for_user_full(
    db: Pool,
    user_id: int,
    n: int,
    offset: int,
    genre: str | None,
    strategy: str,
    seed: int | None,
    exclude: tuple[int, ...],
    fallback: Fallback | None,
) -> Response:
    """Any strategy (the live ranking for a changed profile), with the 404/503 checks."""
    # the default strategy's stored list was just tried by the hot path and its ranking with the
    # model just below: what is left for it is the live SQL
    rank = ease.live if strategy == DEFAULT_STRATEGY else STRATEGIES[strategy]
    with db.connection() as conn:
        if strategy == DEFAULT_STRATEGY:  # the common case first: a known user, one round trip
            fresh = ease.fresh(conn, user_id, version=None, n=n, offset=offset, genre=genre, exclude=exclude)
            if fresh is not None:
                return recommendations_response(fresh)
        user = get_user(conn, user_id)
        if user is None and fallback is None:
            raise not_found("User")
        if user is None:
            # no ratings: the ranking itself has no candidates and goes on with the most rated
            # movies (the same rule and reasons as its continuation for any user)
            version = require_version(active_version(conn))
            popular = ease.live(conn, user_id, ListRequest(n, offset, genre, version, exclude=exclude))
            return recommendations_response(popular)
        request = ListRequest(n, offset, genre, require_version(user.version), seed, exclude)
        recs = rank(conn, user.user_id, request)
    return recommendations_response(recs)
