"""Helpers of the browser tests (a uniquely named module: test dirs have no __init__.py):
the API served for real by `cinecluster serve`, and Debian's Chromium driven by Playwright."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(os.environ.get("CINECLUSTER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
WIDTHS = {"desktop": 1280, "phone": 390}
TOKEN = "dashboard-test-token"
READY_DEADLINE_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python -m cinecluster serve` on a free port against `db_url`, with the admin token set."""

    def __init__(self, db_url: str, token: str | None = TOKEN) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": db_url}
        env.pop("CINECLUSTER_ADMIN_TOKEN", None)
        if token:
            env["CINECLUSTER_ADMIN_TOKEN"] = token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cinecluster", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> "Server":
        """Poll /healthz (the process answers) until the deadline; the database may be anything."""
        deadline = time.monotonic() + READY_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}: {self.process.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.1)  # poll interval; the condition is the HTTP answer above
        self.stop()
        pytest.fail(f"server not answering within {READY_DEADLINE_S} s")

    def json(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", params=params, timeout=30)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def stop(self) -> str:
        """Stop the server; returns what it wrote to stderr (tracebacks would show up here)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err or ""


def require_chromium() -> None:
    """Skip where no Chromium is installed, except in CI (.ci/run installs it): there, fail."""
    if CHROMIUM.is_file():
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CINECLUSTER_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class ConsoleLog:
    """Every console error and uncaught page error of one page, for asserting there are none."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on(
            "console",
            lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def take(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors


def screenshot(page: Any, name: str) -> None:
    """The page at both widths, full length, into test-artifacts/dashboard/NAME-WIDTH.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)
