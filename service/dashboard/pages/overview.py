"""`/dashboard`: counts, the active model, quality per version, recent runs, the next run."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from scheduler import heartbeat, runs
from service.dashboard.charts import line_chart
from service.dashboard.errors import page_router
from service.dashboard.templating import render
from service.dependencies import pool_of
from service.queries.models import list_models
from service.queries.stats import row_counts

router = page_router("/dashboard")

RECENT_RUNS = 8
# The model's figures people look for first (GET /models/active has them all).
KEY_METRICS = {
    "holdout ndcg_at_10": "Holdout NDCG@10",
    "holdout recall_at_10": "Holdout recall@10",
    "silhouette": "Silhouette",
    "davies_bouldin": "Davies-Bouldin",
    "inertia": "Inertia",
}


def recent_runs(
    request: Request, limit: int = RECENT_RUNS
) -> tuple[list[runs.RunInfo], heartbeat.Heartbeat | None]:
    """The runs newest first, as GET /admin/runs lists them (stale 'running' rows marked failed
    first), and the scheduler's last heartbeat (is one running, when is the next run), as
    GET /admin/scheduler reads it: both open here, without the error text of failed runs."""
    with request.app.state.db.write_engine().begin() as conn:
        runs.mark_stale_runs(conn)
        return runs.list_runs(conn, limit), heartbeat.latest(conn)


def quality_chart(models: list[dict[str, Any]]) -> Any:
    """The holdout NDCG@10 each kept version recorded, oldest first (None when none did)."""
    points = [
        (f"v{m['version']}", float(ndcg))
        for m in sorted(models, key=lambda m: m["version"])
        if isinstance(ndcg := m["metrics"].get("holdout", {}).get("ndcg_at_10"), int | float)
    ]
    return line_chart(points) if points else None


@router.get("", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """The service at a glance."""
    with pool_of(request).connection() as conn:
        counts = row_counts(conn)
        models = list_models(conn)
    active = next((m for m in models if m["active"]), None)
    found, scheduler = recent_runs(request)
    return render(
        request,
        "overview.html",
        section="overview",
        counts=counts,
        users=active["dataCounts"].get("users") if active else None,
        active=active,
        key_metrics=KEY_METRICS,
        chart=quality_chart(models),
        runs=found,
        scheduler=scheduler,
    )
