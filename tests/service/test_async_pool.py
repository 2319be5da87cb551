"""The asyncio pool of the hot routes: bounded waits for a busy pool, connections reused."""

import asyncio

import pytest

from cinecluster.settings import Settings
from service.database import AsyncPool, PoolTimeout


def test_a_full_pool_times_out_then_serves_once_a_connection_is_back(read_db_url: str) -> None:
    async def scenario() -> None:
        pool = AsyncPool(read_db_url, Settings(api_pool_size=1, api_pool_timeout_s=0.2))
        try:
            holding, release = asyncio.Event(), asyncio.Event()

            async def hold() -> int:
                async with pool.connection() as conn:
                    pid = conn.info.backend_pid
                    holding.set()
                    await release.wait()
                return pid

            holder = asyncio.create_task(hold())
            await holding.wait()
            with pytest.raises(PoolTimeout, match=r"no free database connection within 0\.2 s"):
                async with pool.connection():
                    pass
            waiter = asyncio.create_task(_backend_pid(pool))
            release.set()
            assert await waiter == await holder  # the same, pooled connection
        finally:
            await pool.close()

    asyncio.run(scenario())


async def _backend_pid(pool: AsyncPool) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT pg_backend_pid()")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])
