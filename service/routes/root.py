"""`GET /`: the original greeting plus versions and row counts."""

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from cinecluster.activation import active_version
from service.dependencies import DbDep
from service.queries.stats import row_counts
from service.schemas.common import errors
from service.schemas.health import Counts, RootOut

router = APIRouter(tags=["service"])

try:
    SERVICE_VERSION = version("cinecluster")
except PackageNotFoundError:  # running from a source tree without an install
    SERVICE_VERSION = "0.0.0"


@router.get("/", response_model=RootOut, responses=errors(503))
def home(db: DbDep) -> RootOut:
    """The service is running: service version, active model version and row counts."""
    with db.connection() as conn:
        return RootOut(
            message="Recommender System API is running",
            serviceVersion=SERVICE_VERSION,
            modelVersion=active_version(conn),
            counts=Counts(**row_counts(conn)),
        )
