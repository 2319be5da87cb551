"""The API's connection pools: plain psycopg connections, autocommit, fail fast when the DB is gone.

`Pool` serves the `def` routes (FastAPI's threadpool); `AsyncPool` the `async def` hot paths
(/movie, /recommend/*), which skip the threadpool hop: measured 1.4-2x the requests per second
of the same SQL from a `def` route (docs/benchmarks.md, API). Both behave the same way:

A small pool of our own rather than psycopg_pool: when the server is unreachable, psycopg_pool
makes every request wait its full timeout for a background reconnect, while here a request
connects in its own thread and gets "connection refused" (-> 503) at once. A connection that
broke marks every older pooled connection stale, so the service recovers on the next request
after the database returns, without a health-check query on every checkout.
"""

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from cinecluster.db import libpq_url
from cinecluster.settings import Settings

CONNECT_TIMEOUT_S = 2  # libpq's minimum: a black-holed server costs at most this
POOL_TIMEOUT_S = 5.0  # waiting for a free connection when all are busy
TCP_USER_TIMEOUT_MS = 10_000  # unacknowledged data for this long = the server is gone


class PoolTimeout(psycopg.OperationalError):
    """Every connection stayed busy for POOL_TIMEOUT_S: answered as 503 like a dead database."""


def server_options(settings: Settings) -> str:
    """libpq `options` for every API connection (the pools' and the write engine's)."""
    jit = "on" if settings.api_jit else "off"
    return f"-c statement_timeout={settings.statement_timeout_ms} -c jit={jit}"


def connect_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "autocommit": True,  # reads need no transaction; writes open one explicitly
        "application_name": "cinecluster-api",
        "connect_timeout": CONNECT_TIMEOUT_S,
        "options": server_options(settings),
        # a server that vanishes without closing the socket (host down, network cut) would
        # otherwise leave a query waiting for TCP's ~15 min retransmission timeout
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "keepalives_idle": 30,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }


class Pool:
    def __init__(self, url: str, settings: Settings, size: int = 8, timeout: float = POOL_TIMEOUT_S) -> None:
        self.conninfo = libpq_url(url)
        self.kwargs = connect_kwargs(settings)
        self.size = size
        self.timeout = timeout
        self._slots = threading.BoundedSemaphore(size)
        self._idle: deque[tuple[int, psycopg.Connection]] = deque()
        self._lock = threading.Lock()
        self._generation = 0
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=self.timeout):
            raise PoolTimeout(f"no free database connection within {self.timeout:g} s")
        try:
            generation, conn = self._take()
            try:
                yield conn
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    self._discard(conn)
                else:  # e.g. statement timeout: the connection itself is fine
                    self._give(generation, conn)
                raise
            except BaseException:
                self._give(generation, conn)
                raise
            else:
                self._give(generation, conn)
        finally:
            self._slots.release()

    def _take(self) -> tuple[int, psycopg.Connection]:
        with self._lock:
            while self._idle:
                generation, conn = self._idle.pop()
                if generation == self._generation and not conn.closed:
                    return generation, conn
                conn.close()
            generation = self._generation
        return generation, psycopg.connect(self.conninfo, **self.kwargs)

    def _give(self, generation: int, conn: psycopg.Connection) -> None:
        status = conn.info.transaction_status
        if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            try:
                conn.rollback()
            except psycopg.Error:
                self._discard(conn)
                return
            status = conn.info.transaction_status
        with self._lock:
            if not self._closed and generation == self._generation and status == TransactionStatus.IDLE:
                self._idle.append((generation, conn))
                return
        conn.close()

    def _discard(self, conn: psycopg.Connection) -> None:
        conn.close()
        with self._lock:
            self._generation += 1  # the server likely restarted: older connections are dead too

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        for _, conn in idle:
            conn.close()


class AsyncPool:
    """`Pool` for `async def` routes: the same fail-fast and stale-generation rules, on asyncio
    (one event loop: no lock needed between checking and taking an idle connection)."""

    def __init__(self, url: str, settings: Settings, size: int = 8, timeout: float = POOL_TIMEOUT_S) -> None:
        self.conninfo = libpq_url(url)
        self.kwargs = connect_kwargs(settings)
        self.timeout = timeout
        self._slots = asyncio.Semaphore(size)
        self._idle: deque[tuple[int, psycopg.AsyncConnection]] = deque()
        self._generation = 0
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        if self._slots.locked():  # all busy (the usual case under load): wait, bounded
            try:
                # a timer, not wait_for's extra task per request
                async with asyncio.timeout(self.timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise PoolTimeout(f"no free database connection within {self.timeout:g} s") from None
        else:
            await self._slots.acquire()  # returns at once
        try:
            generation, conn = await self._take()
            try:
                yield conn
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    await self._discard(conn)
                else:
                    await self._give(generation, conn)
                raise
            except BaseException:
                await self._give(generation, conn)
                raise
            else:
                await self._give(generation, conn)
        finally:
            self._slots.release()

    async def _take(self) -> tuple[int, psycopg.AsyncConnection]:
        while self._idle:
            generation, conn = self._idle.pop()
            if generation == self._generation and not conn.closed:
                return generation, conn
            await conn.close()
        generation = self._generation
        return generation, await psycopg.AsyncConnection.connect(self.conninfo, **self.kwargs)

    async def _give(self, generation: int, conn: psycopg.AsyncConnection) -> None:
        status = conn.info.transaction_status
        if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            try:
                await conn.rollback()
            except psycopg.Error:
                await self._discard(conn)
                return
            status = conn.info.transaction_status
        if not self._closed and generation == self._generation and status == TransactionStatus.IDLE:
            self._idle.append((generation, conn))
            return
        await conn.close()

    async def _discard(self, conn: psycopg.AsyncConnection) -> None:
        await conn.close()
        self._generation += 1

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = list(self._idle), deque()
        for _, conn in idle:
            await conn.close()
