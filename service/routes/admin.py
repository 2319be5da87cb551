"""Admin: request a recluster run, list runs, the scheduler's state. Everything here needs the
bearer token.

The API only records a request (state `requested`, NOTIFY) on its own small write engine; the
scheduler process claims and runs it on its own connections. Nothing here imports the job's
modules (scikit-learn and co.): the API's memory and CPU stay out of a run.
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy import Connection

from cinecluster.activation import active_version
from scheduler import heartbeat, pending, runs
from scheduler.options import ReclusterOptions
from service.dependencies import require_admin
from service.errors import not_found
from service.schemas.admin import ReclusterRequest, RunOut, RunRequested, SchedulerOut
from service.schemas.common import RunIdPath, errors

OptionsBody = Annotated[
    ReclusterRequest | None, Body(description="Recluster options, as the CLI's; omit for the defaults.")
]
router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post(
    "/recluster",
    status_code=202,
    response_model=RunRequested,
    responses=errors(400, 401, 403, 409, 422, 503),
)
def recluster(request: Request, options: OptionsBody = None) -> RunRequested:
    """Request a recluster run; the scheduler process runs it (follow it in GET /admin/runs).
    409 while another run is requested or running; a warning when no scheduler is running."""
    chosen = options or ReclusterOptions()
    with request.app.state.db.write_engine().begin() as conn:
        run_id = runs.request(conn, "api", chosen.stored())
        seen = heartbeat.latest(conn)
    return RunRequested(runId=run_id, status="requested", options=chosen.stored(), warning=_warning(seen))


def _warning(seen: heartbeat.Heartbeat | None) -> str | None:
    if seen is not None and seen.alive:
        return None
    when = "never seen" if seen is None else f"last seen {seen.last_seen_at.isoformat(timespec='seconds')}"
    return f"no scheduler is running ({when}): the run starts when `cinecluster scheduler` runs"


@router.get("/runs", response_model=list[RunOut], responses=errors(401, 403, 422, 503))
def list_runs(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[RunOut]:
    """Recent recluster runs, newest first, with the current step of a running one (stale
    'running' rows, whose process died, are marked failed first)."""
    with request.app.state.db.write_engine().begin() as conn:
        runs.mark_stale_runs(conn)
        return [_run_out(r) for r in runs.list_runs(conn, limit)]


@router.get("/runs/{run_id}", response_model=RunOut, responses=errors(401, 403, 404, 422, 503))
def get_run(request: Request, run_id: RunIdPath) -> RunOut:
    """One run: poll this after POST /admin/recluster."""
    with request.app.state.db.write_engine().begin() as conn:
        runs.mark_stale_runs(conn)
        found = runs.get_run(conn, run_id)
    if found is None:
        raise not_found("Run")
    return _run_out(found)


@router.get("/scheduler", response_model=SchedulerOut, responses=errors(401, 403, 503))
def scheduler_state(request: Request) -> SchedulerOut:
    """Is a scheduler running (heartbeat), when is the next scheduled run, which run is active."""
    with request.app.state.db.write_engine().begin() as conn:
        runs.mark_stale_runs(conn)
        seen = heartbeat.latest(conn)
        active = _active_run(conn)
        version = active_version(conn)
        waiting = pending.backlog(conn, version) if version is not None else None
    return SchedulerOut(
        running=bool(seen and seen.alive),
        schedulerId=seen.scheduler_id if seen else None,
        lastSeenAt=seen.last_seen_at if seen else None,
        secondsSinceSeen=round(seen.age_s, 3) if seen else None,
        heartbeatIntervalSeconds=seen.interval_s if seen else None,
        startedAt=seen.started_at if seen else None,
        stoppedAt=seen.stopped_at if seen else None,
        cron=seen.cron if seen else None,
        nextRunAt=seen.next_run_at if seen else None,
        activeRun=active,
        refreshPending=waiting.users if waiting else None,
        refreshOldestSeconds=waiting.oldest_s if waiting else None,
    )


def _active_run(conn: Connection) -> RunOut | None:
    found = runs.list_runs(conn, 1, statuses=("requested", "running"))
    return _run_out(found[0]) if found else None


def _run_out(r: runs.RunInfo) -> RunOut:
    return RunOut(
        runId=r.run_id,
        trigger=r.trigger,
        status=r.status,
        requestedAt=r.requested_at,
        startedAt=r.started_at,
        finishedAt=r.finished_at,
        version=r.version,
        error=r.error,
        options=r.options,
        runner=r.runner,
        step=r.step,
        stepIndex=r.step_index,
        stepCount=r.step_count,
        stepFraction=r.step_fraction,
        progressAt=r.progress_at,
    )
