"""A recluster requested over HTTP is recorded by the API and run by the scheduler process.

The app answers through HTTP (TestClient); the scheduler is `python -m cinecluster scheduler`,
a real process, killed for real. Waiting is polling with a deadline, never a sleep.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from api_helpers import TOKEN, auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from cinecluster.settings import Settings
from service.app import create_app

T = TypeVar("T")
DEADLINE_S = 300  # a run of ml-latest-small on a busy 2-core machine; only turns a hang into a failure
TINY_STATEMENT_TIMEOUT_MS = 25  # the API's own statements are index lookups; the job's take seconds


def poll(condition: Callable[[], T | None], what: str, deadline_s: float = DEADLINE_S) -> T:
    """condition() until it returns something truthy, or fail after deadline_s."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)  # poll interval; the condition above is the synchronisation
    pytest.fail(f"timed out waiting for {what}")


class Scheduler:
    """`python -m cinecluster scheduler` on a database; its log kept for failure messages."""

    def __init__(self, db_url: str, **env: str) -> None:
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cinecluster", "scheduler"],
            env={
                **os.environ,
                "DATABASE_URL": db_url,
                "CINECLUSTER_RECLUSTER_CRON": "0 3 * * mon",
                "CINECLUSTER_SCHEDULER_HEARTBEAT_S": "1",
                **env,
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def api(clustered_db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=clustered_db_url, admin_token=TOKEN))) as client:
        yield client


@pytest.fixture
def tiny_timeout_api(clustered_db_url: str) -> Iterator[TestClient]:
    """The app with an API statement timeout far below any step of the job: a run on the API's
    connections would fail (as it did at 25M with the default 5 s)."""
    settings = Settings(
        database_url=clustered_db_url, admin_token=TOKEN, statement_timeout_ms=TINY_STATEMENT_TIMEOUT_MS
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def db(clustered_db_url: str) -> Iterator[Engine]:
    engine = create_engine(clustered_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def schedulers(clustered_db_url: str) -> Iterator[Callable[..., Scheduler]]:
    started: list[Scheduler] = []

    def start(**env: str) -> Scheduler:
        started.append(Scheduler(clustered_db_url, **env))
        return started[-1]

    yield start
    for scheduler in started:
        scheduler.stop()


def run_of(api: TestClient, run_id: int) -> dict:
    response = api.get(f"/admin/runs/{run_id}", headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


def finished(api: TestClient, run_id: int) -> dict | None:
    run = run_of(api, run_id)
    return run if run["status"] in ("succeeded", "failed") else None


def scheduler_running(api: TestClient) -> dict | None:
    state = api.get("/admin/scheduler", headers=auth()).json()
    return state if state["running"] else None


def test_a_requested_run_completes_in_the_scheduler_process(
    tiny_timeout_api: TestClient, schedulers: Callable[..., Scheduler]
) -> None:
    api = tiny_timeout_api
    # polling every 10 minutes: only the NOTIFY can make this run start within the deadline
    scheduler = schedulers(CINECLUSTER_SCHEDULER_POLL_S="600")
    state = poll(lambda: scheduler_running(api), "the scheduler's heartbeat")
    assert state["heartbeatIntervalSeconds"] == 1 and state["cron"] == "0 3 * * mon"
    assert state["nextRunAt"] is not None and state["activeRun"] is None

    requested = api.post("/admin/recluster", json={"k": 7, "seed": 3}, headers=auth())
    assert requested.status_code == 202, requested.text
    assert requested.json()["warning"] is None
    run_id = requested.json()["runId"]
    run = poll(lambda: finished(api, run_id), "the requested run to finish")

    assert run["status"] == "succeeded", (run, "".join(scheduler.log))
    assert run["version"] == 2 and run["trigger"] == "api"
    assert run["runner"].endswith(f":{scheduler.process.pid}")
    assert (run["step"], run["stepIndex"]) == ("prune", run["stepCount"])
    active = api.get("/models/active").json()
    assert (active["version"], active["params"]["k"], active["params"]["seed"]) == (2, 7, 3)
    assert api.get("/admin/scheduler", headers=auth()).json()["activeRun"] is None


def test_a_request_without_a_scheduler_waits_and_runs_when_one_starts(
    api: TestClient, schedulers: Callable[..., Scheduler]
) -> None:
    assert api.get("/admin/scheduler", headers=auth()).json()["lastSeenAt"] is None
    requested = api.post("/admin/recluster", headers=auth())
    assert requested.status_code == 202
    assert requested.json()["warning"].startswith("no scheduler is running (never seen)")
    run_id = requested.json()["runId"]
    state = api.get("/admin/scheduler", headers=auth()).json()
    assert (state["running"], state["activeRun"]["runId"], state["activeRun"]["status"]) == (
        False,
        run_id,
        "requested",
    )
    refused = api.post("/admin/recluster", json={"k": 4}, headers=auth())
    assert refused.status_code == 409 and f"already requested (run {run_id}" in refused.json()["error"]

    scheduler = schedulers(CINECLUSTER_SCHEDULER_POLL_S="600")  # found at start-up, not by a NOTIFY
    run = poll(lambda: finished(api, run_id), "the waiting run to be picked up")
    assert run["status"] == "succeeded", (run, "".join(scheduler.log))
    assert api.get("/models/active").json()["version"] == 2


def test_a_scheduler_killed_mid_run_leaves_the_active_version_and_the_run_is_failed_on_restart(
    api: TestClient, db: Engine, schedulers: Callable[..., Scheduler]
) -> None:
    with db.connect() as blocker:
        # the run's first write into model_versions waits here, so the kill lands mid-run
        blocker.execute(text("LOCK TABLE model_versions IN EXCLUSIVE MODE"))
        first = schedulers()
        run_id = api.post("/admin/recluster", headers=auth()).json()["runId"]
        run = poll(
            lambda: (r := run_of(api, run_id))["status"] == "running" and r["step"] == "write" and r,
            "the run to reach its write step",
        )
        assert run["startedAt"] is not None and run["stepCount"] > run["stepIndex"] > 1
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
        # still serving the old version while the dead run's session lingers
        assert api.get("/models/active").json()["version"] == 1
        assert api.get("/recommend/user/1").status_code == 200
        blocker.rollback()

    def failed_in_db() -> tuple[str, str] | None:  # read directly: GET /admin/runs would mark it too
        with db.connect() as conn:
            row = conn.execute(
                text("SELECT status, error FROM recluster_runs WHERE run_id = :r"), {"r": run_id}
            ).one()
        return (row.status, row.error) if row.status == "failed" else None

    second = schedulers()
    _, error = poll(failed_in_db, "the restarted scheduler to mark the run failed")
    assert error.startswith("stale:") and "\n" not in error
    assert api.get("/models/active").json()["version"] == 1
    with db.connect() as conn:
        assert conn.execute(text("SELECT max(version) FROM model_versions")).scalar_one() == 1
    poll(lambda: scheduler_running(api), "the restarted scheduler's heartbeat")
    assert second.process.poll() is None
