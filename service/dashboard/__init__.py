"""The dashboard: server-rendered pages at /dashboard for people (clusters, movies, users, models).

Jinja2 templates and static files ship inside this package (no CDN, no front-end build, works
offline). Pages read through `service.queries` and `service.recommenders`, like the API; the
two small scripts (static/models.js, static/movie.js) send the admin token to the API's own
write endpoints.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.dashboard.pages import ROUTER

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on the API's app."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.include_router(ROUTER)
