"""Model versions."""

from fastapi import APIRouter

from service.dependencies import DbDep
from service.errors import no_active_model
from service.queries.models import list_models
from service.queries.stats import active_version
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
