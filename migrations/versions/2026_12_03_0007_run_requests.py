"""Recluster runs requested over HTTP, run by the scheduler, reporting their step; scheduler heartbeats.

- recluster_runs gets the state `requested` (the API records a request, the scheduler process
  claims and runs it), the requested options, who ran it, and the current step with its
  progress (written as the run goes, on a connection of its own, so it is visible while the
  run's write transaction is open). requested_at is when the row was made; started_at is now
  NULL until a scheduler (or the CLI) starts the run.
- At most one run is requested or running: a partial unique index, so two concurrent requests
  cannot both be accepted (the second gets 409).
- scheduler_heartbeats: one row per scheduler process, refreshed every few seconds; the API
  reads it to tell whether a scheduler is running and when the next scheduled run is.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEARTBEATS_COMMENT = (
    "One row per scheduler process (`cinecluster scheduler`, the demo's), refreshed while it runs."
)
RUN_COLUMNS = [
    sa.Column(
        "requested_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.text("now()"),
        comment="When the run was requested (API) or started (CLI, cron).",
    ),
    sa.Column(
        "options",
        JSONB,
        nullable=False,
        server_default=sa.text("'{}'::jsonb"),
        comment="Recluster options of the run (k, batch_size, seed, scaler, feature flags); {} = defaults.",
    ),
    sa.Column("runner", sa.Text, comment="host:pid of the process that ran it; NULL while requested."),
    sa.Column("step", sa.Text, comment="Current step while running (the last one reached when it ended)."),
    sa.Column("step_index", sa.SmallInteger, comment="1-based number of the current step."),
    sa.Column("step_count", sa.SmallInteger, comment="Number of steps of the run."),
    sa.Column(
        "step_fraction",
        sa.REAL,
        comment="Share of the current step done (0-1) where the step can tell; NULL otherwise.",
    ),
    sa.Column(
        "progress_at", sa.DateTime(timezone=True), comment="When the step or its progress last changed."
    ),
]


def upgrade() -> None:
    for column in RUN_COLUMNS:
        op.add_column("recluster_runs", column)
    op.execute("UPDATE recluster_runs SET requested_at = started_at")
    op.alter_column(
        "recluster_runs",
        "started_at",
        nullable=True,
        server_default=None,
        comment="When the run started; NULL while requested.",
    )
    op.alter_column("recluster_runs", "status", comment="requested, running, succeeded or failed.")
    op.drop_constraint(op.f("ck_recluster_runs_status_known"), "recluster_runs", type_="check")
    op.create_check_constraint(
        op.f("ck_recluster_runs_status_known"),
        "recluster_runs",
        "status IN ('requested', 'running', 'succeeded', 'failed')",
    )
    op.create_check_constraint(
        op.f("ck_recluster_runs_step_fraction_range"), "recluster_runs", "step_fraction BETWEEN 0 AND 1"
    )
    # leftovers of a scheduler killed before this revision must not block the first request
    op.execute(
        "UPDATE recluster_runs SET status = 'failed', finished_at = now(),"
        " error = 'stale: still running when the schema was upgraded'"
        " WHERE status = 'running' AND run_id <> (SELECT max(run_id) FROM recluster_runs)"
    )
    op.create_index(
        "ux_recluster_runs_one_active",
        "recluster_runs",
        [sa.text("(true)")],
        unique=True,
        postgresql_where=sa.text("status IN ('requested', 'running')"),
    )
    op.create_table(
        "scheduler_heartbeats",
        sa.Column("scheduler_id", sa.Text, comment="host:pid:start of the scheduler process."),
        sa.Column("host", sa.Text, nullable=False, comment="Host name of the scheduler process."),
        sa.Column("pid", sa.Integer, nullable=False, comment="Process id on that host."),
        sa.Column("cron", sa.Text, comment="Crontab (UTC) of its scheduled runs."),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
            comment="When the process started.",
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
            comment="Last heartbeat.",
        ),
        sa.Column(
            "interval_s",
            sa.REAL,
            nullable=False,
            comment="Seconds between heartbeats; silent for 3 intervals = not running.",
        ),
        sa.Column("next_run_at", sa.DateTime(timezone=True), comment="Next scheduled (cron) run."),
        sa.Column("stopped_at", sa.DateTime(timezone=True), comment="Set on a clean shutdown."),
        sa.PrimaryKeyConstraint("scheduler_id", name="pk_scheduler_heartbeats"),
        comment=HEARTBEATS_COMMENT,
    )


def downgrade() -> None:
    op.drop_table("scheduler_heartbeats")
    op.drop_index("ux_recluster_runs_one_active", "recluster_runs")
    # a run nobody started cannot be expressed before this revision
    op.execute(
        "UPDATE recluster_runs SET status = 'failed', started_at = requested_at, finished_at = now(),"
        " error = 'requested, never started (schema downgraded)' WHERE status = 'requested'"
    )
    op.drop_constraint(op.f("ck_recluster_runs_step_fraction_range"), "recluster_runs", type_="check")
    op.drop_constraint(op.f("ck_recluster_runs_status_known"), "recluster_runs", type_="check")
    op.create_check_constraint(
        op.f("ck_recluster_runs_status_known"),
        "recluster_runs",
        "status IN ('running', 'succeeded', 'failed')",
    )
    op.execute("UPDATE recluster_runs SET started_at = requested_at WHERE started_at IS NULL")
    op.alter_column(
        "recluster_runs",
        "started_at",
        nullable=False,
        server_default=sa.text("now()"),
        comment="Start time.",
    )
    op.alter_column("recluster_runs", "status", comment="running, succeeded or failed.")
    for column in reversed(RUN_COLUMNS):
        op.drop_column("recluster_runs", column.name)
