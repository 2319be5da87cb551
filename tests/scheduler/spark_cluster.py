"""A real Spark standalone cluster on 127.0.0.1 for tests: one master, N workers, from pyspark's
own spark-class; ready when the master's JSON status lists every worker ALIVE."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READY_TIMEOUT_S = 120.0
POLL_S = 0.25  # between polls of the master's status page (the condition, not the delay, decides)


@dataclass
class Cluster:
    master_url: str  # spark://127.0.0.1:port
    status_url: str  # the master's JSON status (web UI)

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.status_url, timeout=5) as answer:
            return json.loads(answer.read())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@contextlib.contextmanager
def standalone_cluster(workdir: Path, workers: int = 2, worker_memory: str = "2g") -> Iterator[Cluster]:
    """Start the cluster, wait until every worker registered, yield it; stop it all on exit
    (each daemon in its own process group: its executors go with it)."""
    spark_class = _spark_class()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_class.parent.parent),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_WORKER_DIR": str(workdir / "work"),
        "SPARK_LOG_DIR": str(workdir),
    }
    port, ui = _free_port(), _free_port()
    cluster = Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}/json/")
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(name: str, *args: str) -> None:
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            command = [str(spark_class), *args]
            # a session of its own: stopping its process group also stops a worker's executors
            process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append((process, log))

    try:
        start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui),
        )
        _wait(cluster, started, lambda status: True)
        for i in range(workers):
            start(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                worker_memory,
                "--webui-port",
                str(_free_port()),
                cluster.master_url,
            )
        _wait(cluster, started, lambda status: _alive(status) >= workers)
        yield cluster
    finally:
        _stop(started)


def _alive(status: dict[str, Any]) -> int:
    return sum(1 for worker in status.get("workers", []) if worker.get("state") == "ALIVE")


def _wait(cluster: Cluster, started: list[tuple[subprocess.Popen[bytes], Path]], ready: Any) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        for process, log in started:
            if process.poll() is not None:
                raise RuntimeError(f"{log.stem} exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            if ready(cluster.status()):
                return
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {log.stem}\n{_tail(log)}" for _, log in started)
            raise TimeoutError(f"Spark standalone cluster not ready in {READY_TIMEOUT_S:g} s\n{logs}")
        time.sleep(POLL_S)


def _stop(started: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    for process, _ in reversed(started):  # workers first, then the master
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process, _ in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
