"""`cinecluster demo`: the one-command quickstart, from nothing to a serving API in one process."""

import contextlib
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import typer
from sqlalchemy.exc import OperationalError

from cinecluster.cli.app import app
from cinecluster.errors import UserError


def _check_port_free(host: str, port: int) -> None:
    """Fail before loading anything if the API could not listen anyway."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise UserError(
                f"cannot listen on {host}:{port} ({error.strerror}); pick another --port"
            ) from None


def _check_data(data: Path) -> None:
    """Fail before starting a database if --data holds nothing to load."""
    from loaders.files import locate

    if not data.is_dir():
        raise UserError(
            f"--data {data}: not a directory (leave --data out for ml-latest-small, or use --synthetic)"
        )
    locate(data, {})


class _Stop(KeyboardInterrupt):
    """SIGTERM or Ctrl-C: unwind normally, so the scheduler and the embedded server stop cleanly.

    A KeyboardInterrupt, because psycopg answers one that arrives mid-query by cancelling the
    query on the server, which leaves the connection usable for the rollback.
    """


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def _say(message: str) -> None:
    typer.echo(message)
    sys.stdout.flush()


@app.command()
def demo(
    data: Path | None = typer.Option(
        None, "--data", help="Folder of MovieLens CSV files to load (default: download ml-latest-small)."
    ),
    synthetic: bool = typer.Option(
        False, "--synthetic", help="Load small generated data instead (no download, works offline)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface the API listens on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port the API listens on."),
) -> None:
    """Run everything in one process: database, schema, data, model, then the API and the scheduler.

    Without DATABASE_URL an embedded PostgreSQL is started (data kept under the user data
    directory). A second start with the same data skips loading and clustering.
    """
    if data is not None and synthetic:
        raise UserError("--data and --synthetic exclude each other; pick one")
    if data is not None:
        _check_data(data)
    _check_port_free(host, port)
    # uvicorn restores these handlers after its graceful shutdown and re-raises the signal into
    # them; the default SIGTERM action would kill the process before atexit stops the database.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with contextlib.suppress(_Stop):
        _run(data, synthetic, host, port)
    _say("stopped")


def _run(data: Path | None, synthetic: bool, host: str, port: int) -> None:
    # imported here: alembic, the demo's tables and data helpers cost every other command ~0.5 s
    from cinecluster.cli import demo_steps

    started = time.perf_counter()
    try:
        url, where = demo_steps.database_url()
        _say(f"database {where}")
        engine = demo_steps.upgraded_engine(url)
        directory, label = demo_steps.data_directory(data, synthetic, _say)
        loaded = demo_steps.ensure_loaded(engine, directory, label)
        _say(f"loaded   {label}" + ("" if loaded else ": unchanged since the last start, load skipped"))
        version, new = demo_steps.ensure_model(engine, data_changed=loaded)
        _say(f"model    version {version} {'trained now' if new else 'already active, recluster skipped'}")
        base_url = f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else host}:{port}"
        _say(demo_steps.summary(engine, base_url, None if where == "DATABASE_URL" else url))
        engine.dispose()
    except OperationalError as error:
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise UserError(f"database error: {first_line}") from None
    _serve(
        host,
        port,
        lambda: _say(
            f"ready in {time.perf_counter() - started:.1f} s; serving the API on {base_url},"
            f" the dashboard on {base_url}/dashboard (Ctrl-C stops)"
        ),
    )


# Ctrl-C with a requested run in progress: how long to wait for the scheduler's threads before
# leaving anyway (the next start marks such a run failed). Idle threads leave within a second.
STOP_WAIT_S = 10


def _serve(host: str, port: int, on_ready: Callable[[], None]) -> None:
    """The API in the foreground, the recluster schedule in a background thread of this process."""
    import uvicorn

    from scheduler.schedule import start_background
    from service.app import create_app

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # listening now: importing the app and the scheduler takes seconds
                on_ready()

    schedule = start_background()
    try:
        # uvicorn turns SIGINT/SIGTERM into a graceful shutdown, then re-raises it into _stop
        Server(uvicorn.Config(create_app(), host=host, port=port, log_level="warning")).run()
    finally:
        schedule.shutdown(wait=False)
        # joined so that no thread is mid-query when the embedded server stops at exit (it would
        # log the lost connection after "stopped")
        deadline = time.monotonic() + STOP_WAIT_S
        for thread in (schedule.watcher, schedule.refresher, schedule.heartbeat):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
