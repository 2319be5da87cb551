"""The compose profile `spark` for real: the scheduler's recluster on the profile's master and worker.

Marked `compose` (`pytest -m compose`), on the machine conftest.py sets up (tools, dockerd, stand-in
images, wheels). With Compose v2 only, in a project of its own: the `.env` lines docs/deploy.md
gives for Spark (taken from .env.example, uncommented) as the project's env file, the spark image
built (`build`: the app services and the master and worker), the database and the Spark cluster
up, ml-latest-small loaded, then the API and the scheduler up, and the scheduler's own first run
(no model yet) on Spark, whose executors run in the worker container and write the stored
rankings from there. `down -v` removes everything at the end, also when it fails.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from compose_stack import (
    POSTGRES_IMAGE,
    PYTHON_IMAGE,
    ComposeProject,
    Machine,
    built_project,
    compose_command,
    free_port,
    spark_env_lines,
    wait_for,
)

pytestmark = [pytest.mark.compose, pytest.mark.real_sample]

SPARK_IMAGE = "cinecluster-spark:compose-test"
APP_NAME = "cinecluster-recluster"  # scheduler/engines/spark_session.py
ML_LATEST_SMALL_RATINGS = 100_836


@pytest.fixture(scope="module")
def spark_stack(machine: Machine, sample_data: Path) -> Iterator[ComposeProject]:
    """A built, not yet started project with the documented Spark lines as its .env; the app
    services and the Spark daemons use one image (the spark target), tagged for the test."""
    work_dir = machine.work_dir / "spark"
    work_dir.mkdir()
    lines = spark_env_lines()
    project = ComposeProject(
        compose_command("v2"),
        f"cinecluster-test-spark-{uuid.uuid4().hex[:8]}",
        {
            "PYTHON_IMAGE": PYTHON_IMAGE,
            "POSTGRES_IMAGE": POSTGRES_IMAGE,
            "CINECLUSTER_IMAGE": SPARK_IMAGE,
            "CINECLUSTER_SPARK_IMAGE": SPARK_IMAGE,
            "POSTGRES_PASSWORD": uuid.uuid4().hex,
            "API_ADDRESS": "127.0.0.1",
            "API_PORT": str(free_port()),
            "SPARK_UI_PORT": str(free_port()),
            "LOAD_DIR": str(sample_data.resolve()),
        },
        work_dir,
        env_file_lines=lines,
    )
    with built_project(project, machine, SPARK_IMAGE, work_dir):
        yield project


def master_status(stack: ComposeProject) -> dict[str, Any]:
    """The master's JSON status, through its web UI published on 127.0.0.1; {} while it is not up."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{stack.env['SPARK_UI_PORT']}/json/", timeout=5)
    except httpx.TransportError:
        return {}
    return answer.json() if answer.status_code == 200 else {}


def worker_status(stack: ComposeProject) -> dict[str, Any]:
    """The worker's JSON status, read inside its container (its web UI is not published)."""
    script = (
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8081/json/').read().decode())"
    )
    done = stack.run("exec", "-T", "spark-worker", "python", "-c", script)
    return dict(json.loads(done.stdout))


def finished_runs(stack: ComposeProject) -> int:
    """Runs recorded and finished (0 while one is requested or running)."""
    answer = stack.psql(
        "SELECT count(*) FILTER (WHERE status IN ('requested', 'running')), count(*) FROM recluster_runs"
    )
    busy, total = (int(n) for n in answer.split("|"))
    return total if busy == 0 else 0


def test_spark_profile_runs_the_recluster_on_the_worker(spark_stack: ComposeProject) -> None:
    stack = spark_stack
    environment = dict(line.split("=", 1) for line in spark_env_lines())
    assert environment["COMPOSE_PROFILES"] == "spark", "the documented lines switch the profile on"
    # The database and the Spark cluster first, then the data: the scheduler, started last,
    # finds no model and makes the first one by itself, on Spark (the engine from .env).
    stack.run("up", "-d", "postgres", "spark-master", "spark-worker", timeout_s=600)
    stack.wait_healthy("postgres", "spark-master", timeout_s=180)
    status = wait_for(
        lambda: (s := master_status(stack)).get("aliveworkers", 0) >= 1 and s,
        "a Spark worker to register with the master",
        180,
    )
    assert status["url"] == environment["CINECLUSTER_SPARK_MASTER"]
    loaded = stack.run("--profile", "load", "run", "--rm", "load", timeout_s=900)  # migrate runs first
    assert f"{ML_LATEST_SMALL_RATINGS:,}" in loaded.stdout, loaded.stdout
    stack.run("up", "-d", timeout_s=600)
    wait_for(lambda: finished_runs(stack) >= 1, "the scheduler's start-up run to finish", 900, 2)
    run = stack.psql("SELECT trigger, status, coalesce(error, '') FROM recluster_runs ORDER BY run_id")
    assert run.splitlines() == ["cron|succeeded|"], run  # the start-up run is the scheduled job
    engine = stack.psql(
        "SELECT metrics->'engine'->>'name', metrics->'engine'->>'master' FROM model_versions"
        " ORDER BY version DESC LIMIT 1"
    )
    assert engine == f"spark|{environment['CINECLUSTER_SPARK_MASTER']}"
    # the stored rankings came from the executors' staging table, now the version's partition
    lists = stack.psql("SELECT count(*) FROM user_recommendations WHERE version = 1")
    assert int(lists) > 0
    assert stack.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'spark_lists%'") == "0"

    # It was an application of the master whose executors ran on the worker (not local mode).
    completed = [app for app in master_status(stack)["completedapps"] if app["name"] == APP_NAME]
    assert completed, master_status(stack)
    last = max(completed, key=lambda app: app["starttime"])
    assert last["state"] == "FINISHED", last
    executors = worker_status(stack)["finishedexecutors"]
    assert last["id"] in {executor["appid"] for executor in executors}, executors

    # The API serves the version the Spark run wrote.
    stack.wait_healthy("api", timeout_s=300)
    client = httpx.Client(base_url=f"http://127.0.0.1:{stack.env['API_PORT']}", timeout=10)
    version = int(stack.psql("SELECT version FROM active_model"))
    assert client.get("/readyz").json()["modelVersion"] == version
    recommended = client.get("/recommend/user/1", params={"n": 5})
    assert recommended.status_code == 200
    assert len(recommended.json()) == 5

    logs = stack.logs()
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 2000 :][:6000]
