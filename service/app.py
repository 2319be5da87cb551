"""The FastAPI application: `create_app()` wires settings, the pooled engine, routes, errors, metrics."""

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

from cinecluster.db import make_engine
from cinecluster.settings import Settings, get_settings
from service import dashboard
from service.database import AsyncPool, Pool, server_options
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


def _lazy_write_engine(url: str, settings: Settings) -> tuple[Callable[[], Engine], Callable[[], None]]:
    """A small SQLAlchemy engine for the rare writes that reuse the scheduler package's code
    (placing a new movie, recording a requested recluster run), created on first use."""
    lock = threading.Lock()
    holder: list[Engine] = []

    def get() -> Engine:
        with lock:
            if not holder:
                options = {"options": server_options(settings)}
                holder.append(make_engine("api", url, pool_size=2, max_overflow=3, connect_args=options))
            return holder[0]

    def dispose() -> None:
        with lock:
            for engine in holder:
                engine.dispose()

    return get, dispose


def _operation_id(route: APIRoute) -> str:
    """The handler's own name (`recommend_for_user`), so generated clients read well; FastAPI's
    default appends the path and method. Handler names are unique (tests/service/test_api_contract.py)."""
    return route.name


def create_app(settings: Settings | None = None, *, pool_size: int | None = None) -> FastAPI:
    """The API; the database is not touched until the first request, so start-up never fails on it."""
    settings = settings or get_settings()
    pool_size = pool_size or settings.api_pool_size
    url = settings.require_database_url()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = Pool(url, settings, size=pool_size)
        app.state.apool = AsyncPool(url, settings, size=pool_size)
        app.state.write_engine, dispose_writes = _lazy_write_engine(url, settings)
        try:
            yield
        finally:
            app.state.pool.close()
            await app.state.apool.close()
            dispose_writes()

    # FastAPIOffline: /docs and /redoc from files in its wheel, so they work without the internet
    app = FastAPIOffline(
        title="cinecluster",
        version=SERVICE_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    dashboard.install(app)  # the pages people open: /dashboard
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for `cinecluster serve` (each worker process builds its own app)."""
    return create_app()
