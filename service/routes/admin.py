"""Admin: start a recluster run, list runs. Everything here needs the bearer token."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from scheduler import runs
from service.dependencies import require_admin
from service.schemas.admin import RunOut, RunStarted
from service.schemas.common import errors

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post("/recluster", status_code=202, response_model=RunStarted, responses=errors(401, 403, 409, 503))
def recluster(request: Request) -> RunStarted:
    """Start a recluster run in the background; 409 while another run holds the lock."""
    from scheduler.job import start_recluster  # scikit-learn & co.: loaded when first needed

    run = start_recluster(request.app.state.write_engine(), trigger="api")
    request.app.state.background_runs.append(run)
    return RunStarted(runId=run.run_id, status="running")


@router.get("/runs", response_model=list[RunOut], responses=errors(401, 403, 422, 503))
def list_runs(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[RunOut]:
    """Recent recluster runs, newest first (stale 'running' rows are marked failed first)."""
    with request.app.state.write_engine().begin() as conn:
        runs.mark_stale_runs(conn)
        found = runs.list_runs(conn, limit)
    return [
        RunOut(
            runId=r.run_id,
            trigger=r.trigger,
            status=r.status,
            startedAt=r.started_at,  # type: ignore[arg-type]
            finishedAt=r.finished_at,  # type: ignore[arg-type]
            version=r.version,
            error=r.error,
        )
        for r in found
    ]
