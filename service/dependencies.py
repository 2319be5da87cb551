"""Request dependencies: the connection pools, lookups that raise 404, admin bearer auth.

The hot paths (/movie, /recommend/*) are `async def` on the asyncio pool (one statement, no
threadpool hop: measured faster, docs/benchmarks.md); every other route, and the hot routes'
full paths, are plain `def` (FastAPI's threadpool) on the sync pool. A dependency that does
I/O would cost one more threadpool hop per request (measured: -25% req/s), so the DB-touching
lookups `movie_or_404` / `user_or_404` are called with the route's connection instead of via
Depends; the dependencies themselves are `async def` and do no I/O. The hot paths take no
dependency at all (`request` and `async_pool_of`): see the note at `DbDep`.
"""

import secrets
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.database import AsyncPool, Pool
from service.errors import ApiError, no_active_model, not_found
from service.queries.movies import MovieRecord, get_movie
from service.queries.users import UserContext, get_user


def pool_of(request: Request) -> Pool:
    """The app's pool; use `with db.connection() as conn:` inside the route."""
    return request.app.state.db.pool


def async_pool_of(request: Request) -> AsyncPool:
    """The app's asyncio pool, for `async def` hot paths: `async with adb.connection() as conn:`."""
    return request.app.state.db.apool


async def get_pool(request: Request) -> Pool:
    return pool_of(request)


# The hot routes take `request: Request` and call pool_of / async_pool_of themselves: resolving
# these as dependencies costs about 15 µs each per request (benchmarks/api_cost.py), 5-8% of a
# stored /recommend/user page; every other route takes them as dependencies.
DbDep = Annotated[Pool, Depends(get_pool)]


def movie_or_404(conn: psycopg.Connection, movie_id: int) -> MovieRecord:
    """The movie with its active cluster, or 404 "Movie not found"."""
    movie = get_movie(conn, movie_id)
    if movie is None:
        raise not_found("Movie")
    return movie


def user_or_404(conn: psycopg.Connection, user_id: int) -> UserContext:
    """A user is someone with at least one rating; else 404 "User not found"."""
    user = get_user(conn, user_id)
    if user is None:
        raise not_found("User")
    return user


def require_version(version: int | None) -> int:
    """The active model version, or 503 when no model has been trained yet."""
    if version is None:
        raise no_active_model()
    return version


_bearer = HTTPBearer(auto_error=False, description="CINECLUSTER_ADMIN_TOKEN")


async def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Writes need `Authorization: Bearer <CINECLUSTER_ADMIN_TOKEN>`; no token configured = closed."""
    expected: str | None = request.app.state.settings.admin_token
    if not expected:
        raise ApiError(403, "Writes are disabled", "set CINECLUSTER_ADMIN_TOKEN to enable write endpoints")
    if credentials is None:
        raise ApiError(401, "Missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(403, "Invalid token")
