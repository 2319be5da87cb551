"""Recluster runs and the scheduler.

The request body of `POST /admin/recluster` is scheduler.options.ReclusterOptions with strict JSON
types: one definition of the options for the CLI, the API and the stored run.
"""

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from scheduler.options import ReclusterOptions
from service.schemas.common import ApiModel

__all__ = ["ReclusterOptions", "ReclusterRequest", "RunOut", "RunRequested", "SchedulerOut"]


# Strict only here: a JSON body is held to the types its schema states (`"year": 0` is no boolean),
# while the CLI's and the stored runs' validation stays as it is.
class ReclusterRequest(ReclusterOptions):
    """Recluster options, as the CLI's flags: camelCase names (`batchSize`; snake_case accepted),
    JSON types as stated (`true`, not `1`)."""

    model_config = ConfigDict(**ReclusterOptions.model_config, strict=True)


class RunRequested(ApiModel):
    runId: int = Field(examples=[7])
    status: str = Field(examples=["requested"], description="Always `requested`: the scheduler runs it.")
    options: dict[str, Any] = Field(description="Every option of the run, defaults filled in.")
    warning: str | None = Field(
        default=None,
        description="Set when no scheduler has been seen recently: the run waits until one runs.",
        examples=[None],
    )


class RunOut(ApiModel):
    runId: int = Field(examples=[7])
    trigger: str = Field(examples=["api"], description="api, cli or cron.")
    status: str = Field(examples=["running"], description="requested, running, succeeded or failed.")
    requestedAt: datetime
    startedAt: datetime | None = Field(description="Null while requested.")
    finishedAt: datetime | None
    version: int | None = Field(examples=[2], description="Model version written by a successful run.")
    error: str | None = Field(examples=[None], description="One-line reason of a failed run.")
    options: dict[str, Any] = Field(description="Options of the run ({} for runs older than the field).")
    runner: str | None = Field(examples=["scheduler-1:7"], description="host:pid that ran it.")
    step: str | None = Field(
        examples=["write:user_lists"], description="Current step (the last one reached once ended)."
    )
    stepIndex: int | None = Field(examples=[8], description="1-based number of the step.")
    stepCount: int | None = Field(examples=[12])
    stepFraction: float | None = Field(
        examples=[None], description="Share of the step done, where the step can tell."
    )
    progressAt: datetime | None = Field(description="When the step or its progress last changed.")


class SchedulerOut(ApiModel):
    running: bool = Field(description="A scheduler's heartbeat was seen within 3 of its intervals.")
    schedulerId: str | None = Field(examples=["scheduler-1:7:1764756000"])
    lastSeenAt: datetime | None = Field(description="Last heartbeat; null if no scheduler ever ran.")
    secondsSinceSeen: float | None
    heartbeatIntervalSeconds: float | None
    startedAt: datetime | None
    stoppedAt: datetime | None = Field(description="Set when it shut down cleanly.")
    cron: str | None = Field(examples=["0 3 * * mon"])
    nextRunAt: datetime | None = Field(description="Next scheduled (cron) run.")
    activeRun: RunOut | None = Field(description="The run requested or running now, if any.")
    refreshPending: int | None = Field(
        description="Users who rated since their stored ranking was computed, served live until the"
        " scheduler refreshes them; null without an active model."
    )
    refreshOldestSeconds: float | None = Field(
        description="Age of the oldest rating change waiting for its refresh (null: none waiting)."
    )
