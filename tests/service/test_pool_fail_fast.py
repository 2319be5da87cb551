"""Why the API keeps pools of its own (service/database.py): with the database unreachable, a
request gets the real error at once, where psycopg_pool makes it wait the whole pool timeout and
then tells it only that no connection came."""

import socket

import psycopg
import psycopg_pool
import pytest

from cinecluster.settings import Settings
from service.database import Pool, PoolTimeout, connect_kwargs


@pytest.fixture
def refused_url() -> str:
    """A URL whose port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def test_our_pool_reports_the_refused_connection_itself(refused_url: str) -> None:
    pool = Pool(refused_url, Settings(database_url=refused_url, api_pool_timeout_s=30))
    with pytest.raises(psycopg.OperationalError, match="refused") as raised, pool.connection():
        pass
    assert not isinstance(raised.value, PoolTimeout)  # the connect error, not a wait that ran out
    assert pool.stats().in_use == 0


def test_psycopg_pool_only_times_out(refused_url: str) -> None:
    kwargs = connect_kwargs(Settings(database_url=refused_url))
    with (
        psycopg_pool.ConnectionPool(
            refused_url, min_size=0, max_size=4, timeout=0.5, kwargs=kwargs, open=True
        ) as pool,
        pytest.raises(psycopg_pool.PoolTimeout) as raised,
        pool.connection(),
    ):
        pass
    assert "refused" not in str(raised.value)  # the request cannot tell a dead server from a busy pool
