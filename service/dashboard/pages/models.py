"""`/dashboard/models`: every kept version, activate (rollback) and recluster-now buttons, runs.

The buttons call the API's admin endpoints from the browser (static/models.js) with the token
the person typed; the page itself is open, like the read API. `/dashboard/models/runs` is the
runs table alone, which the script reloads while a run is requested or running.
"""

from fastapi import Request
from fastapi.responses import HTMLResponse

from service.dashboard.errors import page_router
from service.dashboard.pages.overview import recent_runs
from service.dashboard.templating import render
from service.dependencies import pool_of
from service.queries.models import list_models

router = page_router("/dashboard/models")

IN_PROGRESS = ("requested", "running")


@router.get("", response_class=HTMLResponse)
def models(request: Request) -> HTMLResponse:
    """Kept versions with params and metrics; admin actions."""
    with pool_of(request).connection() as conn:
        versions = list_models(conn)
    found, scheduler = recent_runs(request)
    return render(
        request,
        "models.html",
        section="models",
        models=versions,
        runs=found,
        in_progress=[r for r in found if r.status in IN_PROGRESS],
        scheduler=scheduler,
        token_configured=bool(request.app.state.settings.admin_token),
    )


@router.get("/runs", response_class=HTMLResponse)
def runs_fragment(request: Request) -> HTMLResponse:
    """The runs table (HTML fragment) for the page's script to refresh while a run goes."""
    return render(request, "_runs.html", runs=recent_runs(request)[0])
