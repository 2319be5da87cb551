"""Shared types: ids, paging, the error body."""

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

INT4_MAX = 2**31 - 1

MovieIdPath = Annotated[int, Path(ge=1, le=INT4_MAX, description="MovieLens movieId.", examples=[1])]
UserIdPath = Annotated[int, Path(ge=1, le=INT4_MAX, description="MovieLens userId.", examples=[1])]
RunIdPath = Annotated[int, Path(ge=1, le=INT4_MAX, description="A recluster run's id.", examples=[1])]
ClusterPath = Annotated[int, Path(ge=0, le=32767, description="Cluster id of the active model.")]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size, 1..100.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")]
# PostgreSQL text cannot hold NUL; refusing it here keeps it a 422 instead of a driver error.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=200)]
GenreQuery = Annotated[
    Text | None, Query(description="Only movies of this genre (exact, e.g. `Comedy`).", examples=["Comedy"])
]


class ApiModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class StrictIn(ApiModel):
    """A request body: JSON types as the schema says them (no `0` for false, no `"1"` for 1)."""

    model_config = ConfigDict(populate_by_name=True, strict=True)


class ErrorOut(ApiModel):
    """Every non-2xx answer."""

    error: str = Field(description="Short, stable message.", examples=["Movie not found"])
    detail: Any = Field(default=None, description="Optional details (validation errors, cause).")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error codes, all with the `{error, detail}` body."""
    descriptions = {
        400: "Malformed request body (not JSON text)",
        401: "Missing bearer token",
        403: "Wrong token, or writes disabled (CINECLUSTER_ADMIN_TOKEN unset)",
        404: "Not found",
        409: "Conflict",
        422: "Invalid request",
        503: "Database unavailable or no active model",
    }
    return {code: {"model": ErrorOut, "description": descriptions[code]} for code in codes}
