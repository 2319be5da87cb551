"""Service root and health."""

from pydantic import Field

from service.schemas.common import ApiModel


class Counts(ApiModel):
    movies: int = Field(examples=[9742])
    ratings: int = Field(
        description="Exact below a million rows, the planner's estimate above.", examples=[100836]
    )
    tags: int = Field(examples=[3683])


class RootOut(ApiModel):
    message: str = Field(examples=["Recommender System API is running"])
    serviceVersion: str = Field(examples=["0.1.0"])
    modelVersion: int | None = Field(examples=[1])
    counts: Counts


class Health(ApiModel):
    status: str = Field(examples=["ok"])


class Ready(ApiModel):
    status: str = Field(examples=["ready"])
    modelVersion: int = Field(examples=[1])
