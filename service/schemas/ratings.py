"""Ratings written through the API, validated like the loader."""

from pydantic import Field

from service.schemas.common import INT4_MAX, ApiModel, StrictIn

# to_timestamp() and timestamptz stay sane well past this; MovieLens uses Unix seconds.
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_BATCH = 10_000


class RatingIn(StrictIn):
    userId: int = Field(ge=1, le=INT4_MAX, examples=[1])
    movieId: int = Field(ge=1, le=INT4_MAX, examples=[1])
    rating: float = Field(
        ge=0.5, le=5.0, multiple_of=0.5, description="0.5 to 5.0 in steps of 0.5.", examples=[4.5]
    )
    timestamp: int | None = Field(
        default=None, ge=0, le=MAX_TIMESTAMP, description="Unix seconds; default now.", examples=[1700000000]
    )


class RatingsWritten(ApiModel):
    received: int = Field(examples=[2])
    inserted: int = Field(examples=[1])
    updated: int = Field(description="Existing (user, movie) ratings replaced by newer ones.", examples=[1])
    unchanged: int = Field(
        description="Older than the stored rating, or duplicates in the batch.", examples=[0]
    )
