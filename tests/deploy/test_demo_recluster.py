"""`cinecluster demo` is one process, API and scheduler: a recluster requested over HTTP runs in it."""

import time
from pathlib import Path

import httpx
import pytest
from test_demo import Demo

pytestmark = pytest.mark.slow

TOKEN = "demo-test-token"
DEADLINE_S = 300


def _poll(url: str, done, what: str) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        answer = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
        if done(answer):
            return answer
        time.sleep(0.2)  # poll interval; the condition is the answer above
    pytest.fail(f"timed out waiting for {what}")


def test_the_demo_runs_a_recluster_requested_over_http(db_url: str, tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path), "CINECLUSTER_ADMIN_TOKEN": TOKEN}
    demo = Demo(db_url, "--synthetic", env=env)
    try:
        demo.wait_ready()
        _poll(f"{demo.base}/admin/scheduler", lambda s: s["running"], "the demo's scheduler heartbeat")
        requested = httpx.post(
            f"{demo.base}/admin/recluster",
            json={"k": 5},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert requested.status_code == 202, requested.text
        assert requested.json()["warning"] is None
        run_id = requested.json()["runId"]
        run = _poll(
            f"{demo.base}/admin/runs/{run_id}",
            lambda r: r["status"] in ("succeeded", "failed"),
            "the requested run",
        )
        assert (run["status"], run["version"]) == ("succeeded", 2), run
        active = httpx.get(f"{demo.base}/models/active", timeout=10).json()
        assert (active["version"], active["params"]["k"]) == (2, 5)
    finally:
        code, _, err = demo.stop()
    assert code == 0, err
    assert "Traceback" not in err
