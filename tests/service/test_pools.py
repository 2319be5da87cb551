"""The API's pools: connections reused, replaced at their maximum lifetime, counted in /metrics."""

from api_helpers import api_client

from cinecluster.settings import Settings
from service.database import Pool


def _backend_pid(pool: Pool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def test_a_connection_is_reused_until_its_maximum_lifetime(read_db_url: str) -> None:
    pool = Pool(read_db_url, Settings(database_url=read_db_url))
    try:
        assert len({_backend_pid(pool) for _ in range(5)}) == 1
        assert (pool.stats().opened, pool.stats().idle, pool.stats().expired) == (1, 1, 0)
    finally:
        pool.close()

    short = Pool(read_db_url, Settings(database_url=read_db_url, api_connection_max_lifetime_s=1e-6))
    try:
        assert len({_backend_pid(short) for _ in range(3)}) == 3
        stats = short.stats()
        assert (stats.opened, stats.expired, stats.idle, stats.in_use) == (3, 3, 0, 0)
    finally:
        short.close()


def test_metrics_show_each_pool(read_db_url: str) -> None:
    with api_client(read_db_url) as client:
        assert client.get("/movie/1").status_code == 200  # the async pool
        assert client.get("/clusters").status_code == 200  # the sync pool
        lines = client.get("/metrics").text.splitlines()
    size = Settings().api_pool_size
    for pool in ("sync", "async"):
        assert f'cinecluster_db_pool_size{{pool="{pool}"}} {size:.1f}' in lines
        assert f'cinecluster_db_pool_opened_total{{pool="{pool}"}} 1.0' in lines
        assert f'cinecluster_db_pool_in_use{{pool="{pool}"}} 0.0' in lines
    assert 'cinecluster_db_pool_idle{pool="async"} 1.0' in lines
