"""The API as `cinecluster serve` runs it, plus the benchmark's references in the same app.

  /bench/trivial            async, no I/O: the framework's ceiling
  /bench/trivial-sync       the same as a `def` route (FastAPI's threadpool hop)
  /bench/pk/{id}            one primary-key lookup, `def` on the app's sync pool: the DB-bound
                            ceiling for a `def` route
  /bench/async/pk/{id}      the same lookup from an `async def` route on the app's async pool:
                            the ceiling for the served hot paths (they are `async def`)
  /bench/sync/movie/{id}, /bench/sync/recommend/movie/{id}, /bench/sync/recommend/user/{id}
                            the served hot paths' very same SQL from `def` routes on the sync
                            pool: sync vs async, measured (the served routes are the faster)
  /bench/live/recommend/user/{id}
                            the default user ranking computed live in SQL, as for a user who rated
                            since the last recluster while the API loads its model (the real route
                            serves the stored list, else the model's ranking).
Started by benchmarks/api.py: `uvicorn --factory benchmarks.api_app:bench_app`.
"""

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.routing import Mount

from service.app import create_app
from service.dependencies import DbDep, movie_or_404, user_or_404
from service.errors import not_found
from service.queries.movies import get_movie
from service.recommenders import ListRequest, ease
from service.recommenders.weighted import STORED_ACTIVE
from service.routes.movies import movie_out
from service.schemas.movies import MovieOut
from service.schemas.recommend import RecommendationOut, recommendations_response
from service.sql import fetch_all

PK = "SELECT title FROM movies WHERE movie_id = %(id)s"


def bench_app() -> FastAPI:
    app = create_app()  # CINECLUSTER_API_POOL_SIZE, as `cinecluster serve --pool-size`
    bench = APIRouter(include_in_schema=False)

    @bench.get("/trivial")
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    @bench.get("/trivial-sync")
    def trivial_sync() -> dict[str, bool]:
        return {"ok": True}

    @bench.get("/pk/{movie_id}")
    def pk(movie_id: int, db: DbDep) -> dict[str, str | None]:
        with db.connection() as conn:
            row = conn.execute(PK, {"id": movie_id}).fetchone()
        return {"title": row[0] if row else None}

    @bench.get("/async/pk/{movie_id}")
    async def pk_async(movie_id: int, request: Request) -> dict[str, str | None]:
        async with request.app.state.db.apool.connection() as conn:
            row = await (await conn.execute(PK, {"id": movie_id})).fetchone()
        return {"title": row[0] if row else None}

    @bench.get("/sync/movie/{movie_id}", response_model=MovieOut)
    def movie_sync(movie_id: int, db: DbDep) -> MovieOut:
        with db.connection() as conn:
            movie = get_movie(conn, movie_id)
        if movie is None:
            raise not_found("Movie")
        return movie_out(movie)

    @bench.get(
        "/sync/recommend/movie/{movie_id}",
        response_model=list[RecommendationOut],
    )
    def similar_sync(movie_id: int, db: DbDep, n: int = 5) -> Response:
        """The served hot path's statement, else the full path (as the served route)."""
        page = {"movie_id": movie_id, "genre": None, "n": n, "offset": 0}
        with db.connection() as conn:
            rows = fetch_all(conn, ease.RANKING.similar_then_nearest_rows[False], page)
            recs = ease.RANKING.similar_then_nearest(rows)
            if len(recs) < n:
                movie = movie_or_404(conn, movie_id)
                version = movie.version or 0
                recs = ease.similar(conn, movie_id, movie.cluster, ListRequest(n, 0, None, version))
        return recommendations_response(recs)

    @bench.get(
        "/sync/recommend/user/{user_id}",
        response_model=list[RecommendationOut],
    )
    def user_sync(user_id: int, db: DbDep, n: int = 5) -> Response:
        """The served hot path's statement, else the live ranking (as the served route)."""
        page = {"user_id": user_id, "genre": None, "n": n, "offset": 0}
        with db.connection() as conn:
            recs = ease.RANKING.rows(fetch_all(conn, STORED_ACTIVE[False], page))
            if len(recs) < n:
                version = user_or_404(conn, user_id).version or 0
                recs = ease.RANKING.live(conn, user_id, ListRequest(n, 0, None, version))
        return recommendations_response(recs)

    @bench.get(
        "/live/recommend/user/{user_id}",
        response_model=list[RecommendationOut],
    )
    def user_live(user_id: int, db: DbDep, n: int = 5) -> Response:
        """The live SQL ranking only: what a user who rated since the last run gets."""
        with db.connection() as conn:
            user = user_or_404(conn, user_id)
            recs = ease.RANKING.live(conn, user_id, ListRequest(n, 0, None, user.version or 0))
        return recommendations_response(recs)

    # Routes match in order. The references sit in front, so they are the true ceilings (appended
    # last, each reference request was first tried against all the served routes: py-spy, 12% of
    # the pk lookup's time); under one Mount, so a served route pays one prefix test for them
    # (about 3 µs) on top of what the app's own routing costs it, not one test per reference
    # (about 50 µs for the 11 of them: benchmarks/api_cost.py).
    app.router.routes.insert(0, Mount("/bench", routes=bench.routes))
    return app
