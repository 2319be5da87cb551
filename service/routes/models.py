"""Model versions; activating a kept one (rollback) is an admin write."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from cinecluster.activation import active_version, set_active
from service.dependencies import DbDep, require_admin
from service.errors import no_active_model, not_found
from service.queries.models import list_models
from service.schemas.common import errors
from service.schemas.models import ModelOut

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelOut], responses=errors(503))
def models(db: DbDep) -> list[ModelOut]:
    """Every kept model version, newest first: params, metrics, data counts, sizes."""
    with db.connection() as conn:
        return [ModelOut(**m) for m in list_models(conn)]


@router.get("/active", response_model=ModelOut, responses=errors(503))
def active(db: DbDep) -> ModelOut:
    """The version the API serves."""
    with db.connection() as conn:
        version = active_version(conn)
        found = list_models(conn, version) if version is not None else []
    if not found:
        raise no_active_model()
    return ModelOut(**found[0])


VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="A kept model version.", examples=[1])]


@router.post(
    "/{version}/activate",
    response_model=ModelOut,
    dependencies=[Depends(require_admin)],
    responses=errors(401, 403, 404, 422, 503),
)
def activate_version(version: VersionPath, db: DbDep, request: Request) -> ModelOut:
    """Serve this kept version from now on (rollback, admin), like `cinecluster model activate`."""
    with db.connection() as conn:
        if not list_models(conn, version):
            raise not_found("Model version")
    with request.app.state.db.write_engine().begin() as conn:
        set_active(conn, version)
    with db.connection() as conn:
        return ModelOut(**list_models(conn, version)[0])
