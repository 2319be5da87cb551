"""`cinecluster serve` keeps idle keep-alive connections for CINECLUSTER_API_KEEP_ALIVE_S, not
uvicorn's 5 s: clients' pools (httpx: 5 s) then always drop an idle connection before the
server does, instead of racing it with a request that fails with a read error."""

import socket
import time
from pathlib import Path

from api_helpers import serve_process

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _idle_seconds_until_closed(base_url: str) -> float:
    """One request on a keep-alive connection, then how long the server leaves it open idle."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(REQUEST)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
        idle_from = time.monotonic()
        while sock.recv(65536):  # blocks until the server closes (b"") or the 30 s timeout
            pass
        return time.monotonic() - idle_from


def test_an_idle_connection_stays_open_for_the_setting_not_uvicorns_five_seconds(
    db_url: str, tmp_path: Path
) -> None:
    with serve_process.served(db_url, tmp_path, env={"CINECLUSTER_API_KEEP_ALIVE_S": "7"}) as server:
        idle = _idle_seconds_until_closed(server.base)
    assert 6.5 < idle < 20, idle  # uvicorn's default would have closed it after 5 s
