"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cinecluster.activation import active_version
from service.dependencies import DbDep
from service.errors import no_active_model
from service.schemas.common import errors
from service.schemas.health import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (no database access)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses=errors(503))
def readyz(db: DbDep, request: Request) -> Ready:
    """Ready to serve: the database answers and an active model exists; else 503."""
    with db.connection() as conn:
        version = active_version(conn)
    request.app.state.metrics.active_version.set(version or 0)
    if version is None:
        raise no_active_model()
    return Ready(status="ready", modelVersion=version)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
def metrics(request: Request, db: DbDep) -> Response:
    """Prometheus metrics: requests and latencies by route template, active model version."""
    state = request.app.state
    try:
        with db.connection() as conn:
            version = active_version(conn)
        state.metrics.active_version.set(version or 0)
    except Exception:  # metrics must answer even when the database does not; gauge keeps its value
        pass
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
