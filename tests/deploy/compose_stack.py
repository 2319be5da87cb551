"""Machinery of the compose stack test: Docker tools and daemon, stand-in images, one compose project.

Everything here talks to the local Docker daemon and to ports published on 127.0.0.1 only.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STANDIN_SCRIPT = ROOT / "deploy/build-standin-images.sh"
COMPOSE_V2_SCRIPT = ROOT / "deploy/install-compose-v2.sh"
# Filled with this machine's pip for the image build (the Dockerfile's deploy/pip-install.sh),
# emptied again at the end; only README.md and .gitignore are in git.
WHEELHOUSE = ROOT / "deploy/wheelhouse"
# command -> Debian package providing it
TOOLS = {"dockerd": "docker.io", "docker-compose": "docker-compose", "debootstrap": "debootstrap"}
PYTHON_IMAGE = "python:3.11-slim"  # deploy/build-standin-images.sh's tags
POSTGRES_IMAGE = "postgres:15"
PROJECT_IMAGE = "cinecluster:compose-test"
ENV_EXAMPLE = ROOT / ".env.example"
# Variables passed through from the caller's environment to docker and compose; nothing else.
PASSED_ENV = ("PATH", "HOME", "LANG", "TMPDIR", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CERT_PATH")
# The two Compose implementations the compose file is written for.
COMPOSE_COMMANDS = {"v2": ["docker", "compose"], "v1": ["docker-compose"]}


@dataclass
class Machine:
    """What the compose tests share (conftest.py's `machine`): a work folder, and the images a
    test built already (by tag), so the next one does not build them again."""

    work_dir: Path
    built: set[str] = field(default_factory=set)


def spark_env_lines() -> tuple[str, ...]:
    """The lines .env.example gives, commented out, for switching to the profile `spark`: the
    `# NAME=value` lines right after its "# Spark" comment, uncommented."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Spark"))
    found = []
    for line in lines[start + 1 :]:
        assignment = re.fullmatch(r"# ?([A-Z][A-Z0-9_]*=.*)", line)
        if assignment:
            found.append(assignment.group(1))
        elif found or not line.startswith("#"):
            break
    return tuple(found)


def is_root() -> bool:
    return os.geteuid() == 0


def apt_get(*args: str) -> None:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", *args]
    done = subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed: {done.stderr.strip().splitlines()[-1:]}")


def ensure_tools(log_dir: Path) -> subprocess.Popen[bytes] | None:
    """apt-get install the Debian packages of missing tools (root only); skip with a reason otherwise.

    When Docker itself is missing (a fresh machine: no image can exist yet), the stand-ins' root
    file system is debootstrapped while docker.io installs; the returned process is that.
    """
    missing = sorted({package for command, package in TOOLS.items() if shutil.which(command) is None})
    if not missing:
        return None
    if not is_root():
        pytest.skip(f"compose test needs {' '.join(missing)}: run it as root to have it apt-get install them")
    apt_get("update", "-q")
    rootfs = None
    if "docker.io" in missing:
        if "debootstrap" in missing:
            apt_get("install", "-y", "-q", "debootstrap")
            missing.remove("debootstrap")
        with open(log_dir / "rootfs.log", "wb") as log:
            rootfs = subprocess.Popen(
                ["bash", str(STANDIN_SCRIPT), "--rootfs"], stdout=log, stderr=subprocess.STDOUT
            )
    apt_get("install", "-y", "-q", *missing)
    return rootfs


def compose_v2_available() -> bool:
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


def ensure_compose_v2() -> None:
    """Compose v2 as a Docker CLI plugin when missing (root only): deploy/install-compose-v2.sh."""
    if compose_v2_available() or not is_root():
        return
    done = subprocess.run(["bash", str(COMPOSE_V2_SCRIPT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def fill_wheelhouse(log_dir: Path) -> subprocess.Popen[bytes]:
    """`pip wheel` the project's dependencies, the spark extra's (for the `spark` target) and the
    build backend into deploy/wheelhouse/, in the background, with this machine's pip (its cache
    and configured indexes: what the CI virtualenv was installed from, pyspark's wheel built from
    its sdist included), so the image builds install them without downloading."""
    project = f"{ROOT}[spark]"
    argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(WHEELHOUSE), project]
    with open(log_dir / "wheelhouse.log", "wb") as log:
        return subprocess.Popen([*argv, "setuptools>=68"], stdout=log, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen[bytes] | None, what: str, log: Path, timeout_s: float = 1800) -> None:
    if process is None:
        return
    returncode = process.wait(timeout=timeout_s)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert returncode == 0, f"{what} exited {returncode}:\n{text[-3000:]}"


def wheelhouse_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    """Waits for fill_wheelhouse; drops the project's own wheel (pip wheel makes one), whose
    every change would otherwise invalidate the image's cached dependency layer."""
    finish(process, "pip wheel into deploy/wheelhouse", log)
    for wheel in WHEELHOUSE.glob("cinecluster-*.whl"):
        wheel.unlink()


def empty_wheelhouse() -> None:
    for wheel in WHEELHOUSE.glob("*.whl"):
        wheel.unlink()


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float, every_s: float = 0.5) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


@contextmanager
def docker_daemon(log_dir: Path) -> Iterator[None]:
    """A running Docker daemon: the one already running, else a dockerd started (and stopped) here."""
    if docker_answers():
        yield
        return
    if not is_root():
        pytest.skip("compose test: no Docker daemon answers, and starting dockerd needs root")
    with open(log_dir / "dockerd.log", "wb") as log:
        daemon = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: daemon.poll() is not None or docker_answers(), "dockerd to answer", 60)
        if daemon.poll() is not None:
            pytest.fail(f"dockerd exited with {daemon.returncode}; see {log_dir / 'dockerd.log'}")
        yield
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def build_standin_images() -> None:
    """deploy/build-standin-images.sh: builds only the images that do not exist yet."""
    environment = {
        **os.environ,
        "STANDIN_PYTHON_IMAGE": PYTHON_IMAGE,
        "STANDIN_POSTGRES_IMAGE": POSTGRES_IMAGE,
    }
    done = subprocess.run(
        ["bash", str(STANDIN_SCRIPT)], capture_output=True, text=True, env=environment, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-3000:]


def compose_command(flavour: str) -> list[str]:
    """The command of Compose `flavour` ("v2": the docker CLI plugin, "v1": docker-compose 1.29);
    skips when this machine has no such command."""
    command = COMPOSE_COMMANDS[flavour]
    if subprocess.run([*command, "version"], capture_output=True).returncode != 0:
        pytest.skip(f"no Compose {flavour} here ({' '.join(command)}): as root the test installs it")
    return command


def docker_inspect(container: str, template: str) -> str:
    """`docker inspect -f template container`; empty for no container or one that is gone."""
    if not container:
        return ""
    done = subprocess.run(["docker", "inspect", "-f", template, container], capture_output=True, text=True)
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ComposeProject:
    """`docker compose -p NAME -f docker-compose.yml ...` with a fixed, explicit environment.

    An env file of the test's own (empty, or the given lines) stands in for the checkout's .env,
    so a developer's own settings never leak into the test.
    """

    def __init__(
        self,
        command: list[str],
        name: str,
        variables: dict[str, str],
        work_dir: Path,
        env_file_lines: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        env_file = work_dir / f"{name}.env"
        env_file.write_text("".join(f"{line}\n" for line in env_file_lines), encoding="utf-8")
        self.base = [
            *command,
            "--project-name",
            name,
            "--project-directory",
            str(ROOT),
            "--file",
            str(ROOT / "docker-compose.yml"),
            "--env-file",
            str(env_file),
        ]
        passed = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
        self.env = {**passed, **variables}

    def run(self, *args: str, timeout_s: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, env=self.env, timeout=timeout_s
        )
        if check:
            assert done.returncode == 0, (
                f"compose {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
            )
        return done

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).stdout.strip()

    def inspect(self, service: str, template: str) -> str:
        return docker_inspect(self.container(service), template)

    def wait_healthy(self, *services: str, timeout_s: float = 300) -> None:
        """Polls each service's container with `docker inspect` (one `compose ps` to find it: a
        docker-compose 1.29 call costs a Python start-up)."""
        health = "{{if .State.Health}}{{.State.Health.Status}}{{end}}"
        for service in services:
            container = wait_for(lambda s=service: self.container(s), f"a {service} container", timeout_s, 1)
            wait_for(
                lambda c=container: docker_inspect(c, health) == "healthy",
                f"{service} to be healthy",
                timeout_s,
                1,
            )

    def logs(self) -> str:
        done = self.run("logs", "--no-color", check=False)
        return done.stdout + done.stderr

    def psql(self, sql: str) -> str:
        """One statement through psql inside the postgres container (the port is not published)."""
        done = self.run(
            "exec", "-T", "postgres", "psql", "-U", "cinecluster", "-d", "cinecluster", "-Atc", sql
        )
        return done.stdout.strip()


@contextmanager
def built_project(project: ComposeProject, machine: Machine, image: str, work_dir: Path) -> Iterator[None]:
    """`build` when no test built `image` yet; at the end the project's logs go to
    work_dir/compose.log and `down -v` removes its containers and volumes, also on failure."""
    try:
        if image not in machine.built:
            project.run("build", timeout_s=1800)
            machine.built.add(image)
        yield
    finally:
        (work_dir / "compose.log").write_text(project.logs(), encoding="utf-8")
        project.run("down", "--volumes", "--remove-orphans", "--timeout", "30", check=False)
