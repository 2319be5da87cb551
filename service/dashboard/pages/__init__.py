"""The dashboard's page routes, one module per section; `ROUTER` holds them all under /dashboard."""

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.dashboard.errors import error_page, page_router
from service.dashboard.pages import clusters, models, movies, overview, users

ROUTER = page_router("")
for section in (overview, clusters, movies, users, models):
    ROUTER.include_router(section.router)


@ROUTER.get("/dashboard/{anything:path}", response_class=HTMLResponse)
def unknown_page(request: Request, anything: str) -> Response:
    """Any other address under /dashboard: the 404 page, not the API's JSON."""
    if anything == "":
        return RedirectResponse("/dashboard", status_code=308)
    return error_page(request, 404, "Page not found", f"There is no dashboard page at /dashboard/{anything}.")
