"""Recluster runs."""

from datetime import datetime

from pydantic import Field

from service.schemas.common import ApiModel


class RunStarted(ApiModel):
    runId: int = Field(examples=[7])
    status: str = Field(examples=["running"])


class RunOut(ApiModel):
    runId: int = Field(examples=[7])
    trigger: str = Field(examples=["api"])
    status: str = Field(examples=["succeeded"])
    startedAt: datetime
    finishedAt: datetime | None
    version: int | None = Field(examples=[2])
    error: str | None = Field(examples=[None])
