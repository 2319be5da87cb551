"""The API as `cinecluster serve` runs it, plus the benchmark's references in the same app.

  /bench/trivial            async, no I/O: the framework's ceiling
  /bench/trivial-sync       the same as a `def` route (FastAPI's threadpool hop)
  /bench/pk/{id}            one primary-key lookup, `def` on our pool: the DB-bound ceiling
  /bench/async/pk/{id}      the same lookup from an `async def` route on psycopg's async pool
  /bench/async/movie/{id}, /bench/async/recommend/movie/{id}, /bench/async/recommend/user/{id}
                            our three hot endpoints as `async def` on the async pool, running the
                            very same compiled SQL as the real (`def`) routes: sync vs async.
  /bench/live/recommend/user/{id}
                            the default user ranking computed live in SQL, as for a user who rated
                            since the last recluster (the real route serves the stored list).
Started by benchmarks/api.py: `uvicorn --factory benchmarks.api_app:bench_app`.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool

from cinecluster.db import libpq_url
from cinecluster.ranking import PROFILE_CAP, W_AFFINITY, W_POPULARITY
from cinecluster.settings import get_settings
from service.app import create_app
from service.dependencies import DbDep, user_or_404
from service.errors import not_found
from service.queries.movies import GET_MOVIE, to_record
from service.queries.users import GET_USER
from service.recommenders import (
    DEFAULT_MOVIE_STRATEGY,
    DEFAULT_STRATEGY,
    Recommendation,
    liked_neighbours,
)
from service.routes.movies import movie_out
from service.schemas.movies import MovieOut, join_genres
from service.schemas.recommend import RecommendationOut
from service.sql import Query

PK = "SELECT title FROM movies WHERE movie_id = %(id)s"


def _out(r: Recommendation) -> RecommendationOut:
    return RecommendationOut(
        movieId=r.movie_id,
        title=r.title,
        genres=join_genres(r.genres),
        cluster=r.cluster,
        score=r.score,
        reason=r.reason,
    )


async def _rows(request: Request, query: Query, params: dict[str, Any]) -> list[Any]:
    async with request.app.state.apool.connection() as conn, conn.cursor(row_factory=namedtuple_row) as cur:
        await cur.execute(query.sql, query.params(params), prepare=query.prepare)
        return await cur.fetchall()


def bench_app() -> FastAPI:
    pool_size = int(os.environ.get("CINECLUSTER_API_POOL_SIZE", "8"))
    app = create_app(pool_size=pool_size)
    inner = app.router.lifespan_context
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            a.state.apool = AsyncConnectionPool(
                libpq_url(settings.require_database_url()),
                min_size=pool_size,
                max_size=pool_size,
                kwargs={"autocommit": True, "application_name": "cinecluster-api-bench"},
                open=False,
            )
            await a.state.apool.open(wait=True)
            try:
                yield
            finally:
                await a.state.apool.close()

    app.router.lifespan_context = lifespan

    @app.get("/bench/trivial", include_in_schema=False)
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/bench/trivial-sync", include_in_schema=False)
    def trivial_sync() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/bench/pk/{movie_id}", include_in_schema=False)
    def pk(movie_id: int, db: DbDep) -> dict[str, str | None]:
        with db.connection() as conn:
            row = conn.execute(PK, {"id": movie_id}).fetchone()
        return {"title": row[0] if row else None}

    @app.get("/bench/async/pk/{movie_id}", include_in_schema=False)
    async def pk_async(movie_id: int, request: Request) -> dict[str, str | None]:
        async with request.app.state.apool.connection() as conn:
            row = await (await conn.execute(PK, {"id": movie_id})).fetchone()
        return {"title": row[0] if row else None}

    @app.get("/bench/async/movie/{movie_id}", response_model=MovieOut, include_in_schema=False)
    async def movie_async(movie_id: int, request: Request) -> MovieOut:
        rows = await _rows(request, GET_MOVIE, {"movie_id": movie_id})
        if not rows:
            raise not_found("Movie")
        return movie_out(to_record(rows[0]))

    @app.get(
        "/bench/async/recommend/movie/{movie_id}",
        response_model=list[RecommendationOut],
        include_in_schema=False,
    )
    async def similar_async(movie_id: int, request: Request, n: int = 5) -> list[RecommendationOut]:
        """The real route's hot path (one statement); a short list is served but not padded."""
        assert DEFAULT_MOVIE_STRATEGY == "co_liked", "the async variant mirrors co_liked"
        page = {"movie_id": movie_id, "genre": None, "n": n, "offset": 0}
        rows = await _rows(request, liked_neighbours.SIMILAR_ACTIVE, page)
        if not rows and not await _rows(request, GET_MOVIE, {"movie_id": movie_id}):
            raise not_found("Movie")
        return [_out(r) for r in liked_neighbours.co_liked(rows)]

    @app.get(
        "/bench/async/recommend/user/{user_id}",
        response_model=list[RecommendationOut],
        include_in_schema=False,
    )
    async def user_async(user_id: int, request: Request, n: int = 5) -> list[RecommendationOut]:
        """The real route's hot path (one statement), else the live ranking after a user check."""
        assert DEFAULT_STRATEGY == "liked_neighbours", "the async variant mirrors liked_neighbours"
        page = {"user_id": user_id, "genre": None, "n": n, "offset": 0}
        recs = liked_neighbours.ranked(await _rows(request, liked_neighbours.STORED_ACTIVE, page))
        if len(recs) < n:  # not stored or out of date: the live ranking (as the real route)
            user = await _rows(request, GET_USER, {"user_id": user_id})
            if not user or not user[0].known:
                raise not_found("User")
            live = {
                **page,
                "version": user[0].version,
                "cap": PROFILE_CAP,
                "w_affinity": W_AFFINITY,
                "w_popularity": W_POPULARITY,
            }
            recs = liked_neighbours.ranked(await _rows(request, liked_neighbours.RANKED[False], live))
        return [_out(r) for r in recs]

    @app.get(
        "/bench/live/recommend/user/{user_id}",
        response_model=list[RecommendationOut],
        include_in_schema=False,
    )
    def user_live(user_id: int, db: DbDep, n: int = 5) -> list[RecommendationOut]:
        """The live SQL ranking only: what a user who rated since the last run gets."""
        with db.connection() as conn:
            user = user_or_404(conn, user_id)
            recs = liked_neighbours.live(conn, user_id, n=n, offset=0, genre=None, version=user.version or 0)
        return [_out(r) for r in recs]

    return app
