"""`cinecluster serve`: the REST API under uvicorn."""

import typer

from cinecluster.cli.app import app
from cinecluster.settings import get_settings


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes (each has its own connection pool)."),
    pool_size: int | None = typer.Option(
        None,
        min=1,
        help="Database connections per pool (a worker has two: async hot routes, the rest); about"
        " the database server's cores. Default: CINECLUSTER_API_POOL_SIZE, else 4.",
    ),
) -> None:
    """Serve the REST API (DATABASE_URL; writes need CINECLUSTER_ADMIN_TOKEN)."""
    import os

    import uvicorn

    settings = get_settings()
    settings.require_database_url()  # one-line error now rather than a traceback per worker
    if pool_size is not None:  # the workers read it from the environment, like every setting
        os.environ["CINECLUSTER_API_POOL_SIZE"] = str(pool_size)
    uvicorn.run(
        "service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        timeout_keep_alive=settings.api_keep_alive_s,
    )
