"""The FastAPI application: `create_app()` wires settings, the database layer, routes, errors, metrics."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from cinecluster.settings import Settings, get_settings
from service import dashboard
from service.database import Database
from service.errors import install_error_handlers
from service.metrics import Metrics, MetricsMiddleware
from service.routes import ROUTERS
from service.routes.root import SERVICE_VERSION

DESCRIPTION = """
Movie clusters and recommendations from MovieLens, answered from PostgreSQL.

The original endpoints of the data team's draft keep their paths and field names
(`movieId`, `title`, `genres`, `cluster`); errors are `{"error": ..., "detail": ...}` with a
real status code. Write endpoints need `Authorization: Bearer <CINECLUSTER_ADMIN_TOKEN>`.
"""


def _operation_id(route: APIRoute) -> str:
    """The handler's own name (`recommend_for_user`), so generated clients read well; FastAPI's
    default appends the path and method. Handler names are unique (tests/service/test_api_contract.py)."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API; the database is not touched until the first request, so start-up never fails on it."""
    settings = settings or get_settings()
    settings.require_database_url()  # a missing DATABASE_URL fails here, not on the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        try:
            yield
        finally:
            await app.state.db.close()

    # FastAPIOffline: /docs and /redoc from files in its wheel, so they work without the internet
    app = FastAPIOffline(
        title="cinecluster",
        version=SERVICE_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    # the pools exist while the app runs (lifespan); a scrape before that shows none
    app.state.metrics = Metrics(lambda: app.state.db.pool_stats() if hasattr(app.state, "db") else {})
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    dashboard.install(app)  # the pages people open: /dashboard
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for `cinecluster serve` (each worker process builds its own app)."""
    return create_app()
