"""docker-compose.yml for real: the sysadmin's stack built and run with a real Docker.

Marked `compose` (`pytest -m compose` runs it alone). It installs docker.io, docker-compose and
debootstrap when missing, Compose v2 (deploy/install-compose-v2.sh) when the docker CLI lacks it,
and starts a dockerd when none answers (root only; otherwise it skips with the reason), builds the
stand-in base images (deploy/build-standin-images.sh) and the project's image, and runs the
documented steps once with each Compose (v2 and docker-compose 1.29), each in a project of its
own with the API published on a free port of 127.0.0.1. `down -v` removes everything at the end,
also when it fails.
"""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from compose_stack import (
    POSTGRES_IMAGE,
    PROJECT_IMAGE,
    PYTHON_IMAGE,
    ComposeProject,
    Machine,
    built_project,
    compose_command,
    free_port,
    wait_for,
)

pytestmark = [pytest.mark.compose, pytest.mark.real_sample]

TOKEN = "compose-test-token"
# scheduler/engines/__init__.py's one line, when the image has no spark extra
SPARK_EXTRA_MISSING = "error: --engine spark needs the spark extra: pip install 'cinecluster[spark]'"
ML_LATEST_SMALL_RATINGS = 100_836


@pytest.fixture(scope="module", params=["v2", "v1"])
def stack(request: pytest.FixtureRequest, machine: Machine, sample_data: Path) -> Iterator[ComposeProject]:
    """A built, not yet started compose project run with Compose v2 or docker-compose 1.29; its
    containers and volumes are removed at the end.

    The first Compose builds the project's image (`build`); the second uses that image, as `up`
    does when the image exists (docker-compose 1.29 builds with Docker's classic builder, which
    shares no cache with v2's BuildKit: it would build everything a second time).
    """
    command = compose_command(request.param)
    work_dir = machine.work_dir / request.param
    work_dir.mkdir()
    project = ComposeProject(
        command,
        f"cinecluster-test-{request.param}-{uuid.uuid4().hex[:8]}",
        {
            "PYTHON_IMAGE": PYTHON_IMAGE,
            "POSTGRES_IMAGE": POSTGRES_IMAGE,
            "CINECLUSTER_IMAGE": PROJECT_IMAGE,
            "POSTGRES_PASSWORD": uuid.uuid4().hex,
            "CINECLUSTER_ADMIN_TOKEN": TOKEN,
            "API_ADDRESS": "127.0.0.1",
            "API_PORT": str(free_port()),
            "LOAD_DIR": str(sample_data.resolve()),
        },
        work_dir,
    )
    with built_project(project, machine, PROJECT_IMAGE, work_dir):
        yield project


def api(stack: ComposeProject) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{stack.env['API_PORT']}", timeout=10)


def status(client: httpx.Client, path: str) -> int:
    try:
        return client.get(path).status_code
    except httpx.TransportError:
        return 0


def recommend_ok(client: httpx.Client) -> bool:
    return status(client, "/recommend/user/1?n=5") == 200


def assert_no_traceback(stack: ComposeProject) -> None:
    logs = stack.logs()
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 2000 :][:6000]


def test_compose_stack_end_to_end(stack: ComposeProject) -> None:
    # Empty database: postgres healthy, migrate done, the API alive but not ready (no model).
    stack.run("up", "-d", timeout_s=600)
    stack.wait_healthy("postgres", timeout_s=120)
    client = api(stack)
    wait_for(lambda: status(client, "/healthz") == 200, "the API to answer /healthz", 120)
    assert status(client, "/readyz") == 503

    # The documented load step and first recluster (docs/deploy.md).
    loaded = stack.run("--profile", "load", "run", "--rm", "load", timeout_s=900)
    assert f"{ML_LATEST_SMALL_RATINGS:,}" in loaded.stdout, loaded.stdout
    stack.run("exec", "-T", "scheduler", "cinecluster", "recluster", timeout_s=900)
    stack.wait_healthy("api", timeout_s=300)
    # The Spark engine asked of this image (no spark extra: the build target `runtime`): one line.
    spark_engine = ("-e", "CINECLUSTER_RECLUSTER_ENGINE=spark")
    refused = stack.run("exec", "-T", *spark_engine, "scheduler", "cinecluster", "recluster", check=False)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(SPARK_EXTRA_MISSING) and refused.stderr.count("\n") == 1, refused.stderr

    ready = client.get("/readyz")
    assert ready.status_code == 200
    version = ready.json()["modelVersion"]
    recommended = client.get("/recommend/user/1", params={"n": 5})
    assert recommended.status_code == 200
    assert len(recommended.json()) == 5

    # Writes: closed without the token, open with it.
    rating = [{"userId": 1, "movieId": 2, "rating": 4.0, "timestamp": 1_700_000_000}]
    assert client.post("/ratings", json=rating).status_code == 401
    written = client.post("/ratings", json=rating, headers={"Authorization": f"Bearer {TOKEN}"})
    assert written.status_code == 201, written.text
    assert written.json()["inserted"] == 1
    counts = client.get("/").json()["counts"]
    assert counts["ratings"] == ML_LATEST_SMALL_RATINGS + 1

    # The database restarts under the running API: 503 while it is away, then back by itself.
    api_started = stack.inspect("api", "{{.State.StartedAt}}")
    answers: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            answers.append(status(client, "/readyz"))
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stack.run("restart", "postgres", timeout_s=120)
        wait_for(lambda: status(client, "/readyz") == 200, "the API to be ready again", 120)
    finally:
        stop.set()
        watcher.join()
    assert 503 in answers, f"/readyz answered {sorted(set(answers))} while PostgreSQL restarted"
    assert stack.inspect("api", "{{.State.StartedAt}}") == api_started, "the API container was restarted"
    # Each pool finds its stale connections on first use (service/database.py); after that every
    # request must succeed again.
    wait_for(lambda: all(recommend_ok(client) for _ in range(20)), "/recommend/user/1 to recover", 60)

    # The scheduler: running, its weekly job stored in PostgreSQL with a next fire time.
    assert stack.inspect("scheduler", "{{.State.Running}}") == "true"
    assert stack.psql("SELECT id FROM apscheduler_jobs WHERE next_run_time IS NOT NULL") == "recluster"
    assert_no_traceback(stack)

    # down (containers gone, volume kept) and up: the data and the model are still there.
    stack.run("down", "--timeout", "30", timeout_s=300)
    assert stack.container("api") == ""
    stack.run("up", "-d", timeout_s=600)
    stack.wait_healthy("postgres", "api", timeout_s=300)
    assert client.get("/readyz").json()["modelVersion"] == version
    assert client.get("/").json()["counts"] == counts
    assert client.get("/recommend/user/1", params={"n": 5}).status_code == 200
    assert stack.inspect("scheduler", "{{.State.Running}}") == "true"
    assert "recluster" in stack.psql("SELECT id FROM apscheduler_jobs")
    assert_no_traceback(stack)
