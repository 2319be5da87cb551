"""The API's connections carry its session settings: every pool and the write engine."""

import asyncio

from fastapi.testclient import TestClient
from sqlalchemy import text

from cinecluster.settings import Settings
from service.app import create_app
from service.database import AsyncPool


def _jit_everywhere(client: TestClient) -> set[str]:
    state = client.app.state  # type: ignore[attr-defined]
    with state.db.pool.connection() as conn:
        found = {"pool": conn.execute("SHOW jit").fetchone()[0]}  # type: ignore[index]
    with state.db.write_engine().connect() as conn:
        found["write engine"] = conn.execute(text("SHOW jit")).scalar_one()
    return set(found.values())


def test_the_api_runs_its_statements_without_jit_unless_asked(read_db_url: str) -> None:
    with TestClient(create_app(Settings(database_url=read_db_url))) as client:
        assert _jit_everywhere(client) == {"off"}
    with TestClient(create_app(Settings(database_url=read_db_url, api_jit=True))) as client:
        assert _jit_everywhere(client) == {"on"}


def test_the_async_pool_too(read_db_url: str) -> None:
    async def show() -> str:
        pool = AsyncPool(read_db_url, Settings(api_pool_size=1))
        try:
            async with pool.connection() as conn:
                cur = await conn.execute("SHOW jit")
                return (await cur.fetchone())[0]  # type: ignore[index]
        finally:
            await pool.close()

    assert asyncio.run(show()) == "off"
