"""The API process's database layer: every connection it makes, configured from one Settings.

`Database` holds three things, all with the same connection options (timeouts, keepalives, JIT,
statement timeout, application_name):
- `pool`, for the `def` routes (FastAPI's threadpool);
- `apool`, for the `async def` hot paths (/movie, /recommend/*), which skip the threadpool hop:
  measured 1.4-2x the requests per second of the same SQL from a `def` route (docs/benchmarks.md);
- `write_engine()`, a small SQLAlchemy engine made on first use, for the rare writes that run the
  scheduler package's code (placing a new movie, requesting a run, activating a version).

The pools are our own rather than psycopg_pool: when the server is unreachable psycopg_pool
makes every request wait its full pool timeout while its background worker retries, and the
request then sees only "couldn't get a connection" (tests/service/test_pool_fail_fast.py shows
both). Here a request connects in its own thread or task and gets "connection refused" (-> 503)
at once. A connection that broke marks every older pooled connection stale, so the service
recovers on the next request after the database returns, without a health-check query on every
checkout; connections older than `api_connection_max_lifetime_s` are replaced.
"""

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine

from cinecluster.db import libpq_url, make_engine
from cinecluster.settings import Settings

WRITE_POOL_SIZE, WRITE_MAX_OVERFLOW = 2, 3  # writes are rare: admin calls and new movies


class PoolTimeout(psycopg.OperationalError):
    """Every connection stayed busy for `api_pool_timeout_s`: answered as 503 like a dead database."""


def server_options(settings: Settings) -> str:
    """libpq `options` for every API connection (the pools' and the write engine's)."""
    jit = "on" if settings.api_jit else "off"
    return f"-c statement_timeout={settings.statement_timeout_ms} -c jit={jit}"


def connect_kwargs(settings: Settings) -> dict[str, Any]:
    """psycopg.connect's arguments for the API's connections (autocommit is the pools' own)."""
    return {
        "application_name": "cinecluster-api",
        "connect_timeout": settings.api_connect_timeout_s,
        "options": server_options(settings),
        # a server that vanishes without closing the socket (host down, network cut) would
        # otherwise leave a query waiting for TCP's ~15 min retransmission timeout
        "tcp_user_timeout": settings.api_tcp_user_timeout_ms,
        "keepalives_idle": 30,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }


@dataclass
class PoolStats:
    """Counts since the pool was made (Prometheus: cinecluster_db_pool_*)."""

    size: int
    idle: int = 0
    in_use: int = 0
    opened: int = 0  # new connections made
    expired: int = 0  # closed because they reached the maximum lifetime
    discarded: int = 0  # closed because they broke (each also marks older ones stale)
    timeouts: int = 0  # requests that found every connection busy for the pool timeout


Conn = TypeVar("Conn", psycopg.Connection, psycopg.AsyncConnection)


class _Ledger(Generic[Conn]):
    """What both pools keep, without I/O: idle connections with their generation and birth time,
    and the counts. A connection is reusable while its generation is current and it is younger
    than the maximum lifetime."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.conninfo = libpq_url(url)
        self.kwargs = {**connect_kwargs(settings), "autocommit": True}  # writes open a transaction
        self.size = settings.api_pool_size
        self.timeout = settings.api_pool_timeout_s
        self.max_lifetime = settings.api_connection_max_lifetime_s
        self.idle: deque[tuple[int, float, Conn]] = deque()
        self.generation = 0
        self.closed = False
        self.stats = PoolStats(size=self.size)

    def take_idle(self) -> tuple[tuple[int, float, Conn] | None, list[Conn]]:
        """The newest reusable idle connection (or None), and the stale ones to close."""
        stale: list[Conn] = []
        while self.idle:
            entry = self.idle.pop()
            if self.reusable(entry[0], entry[1]) and not entry[2].closed:
                return entry, stale
            stale.append(entry[2])
        return None, stale

    def reusable(self, generation: int, born: float) -> bool:
        if generation != self.generation:
            return False
        if time.monotonic() - born >= self.max_lifetime:
            self.stats.expired += 1
            return False
        return True

    def keep(self, generation: int, born: float, conn: Conn) -> bool:
        """Put a returned connection back (True) unless it must be closed (False)."""
        if self.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            return False
        if not self.reusable(generation, born):
            return False
        self.idle.append((generation, born, conn))
        return True

    def broke(self) -> None:
        self.stats.discarded += 1
        self.generation += 1  # the server likely restarted: older connections are dead too

    def timed_out(self) -> PoolTimeout:
        self.stats.timeouts += 1
        return PoolTimeout(f"no free database connection within {self.timeout:g} s")

    def snapshot(self, in_use: int) -> PoolStats:
        return PoolStats(**{**vars(self.stats), "idle": len(self.idle), "in_use": in_use})


class Pool:
    """The threadpool routes' connections: at most `api_pool_size`, waits bounded."""

    def __init__(self, url: str, settings: Settings) -> None:
        self._ledger: _Ledger[psycopg.Connection] = _Ledger(url, settings)
        self._slots = threading.BoundedSemaphore(self._ledger.size)
        self._lock = threading.Lock()
        self._in_use = 0

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        ledger = self._ledger
        if not self._slots.acquire(timeout=ledger.timeout):
            with self._lock:
                raise ledger.timed_out()
        try:
            generation, born, conn = self._take()
            try:
                yield conn
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    conn.close()
                    with self._lock:
                        ledger.broke()
                else:  # e.g. statement timeout: the connection itself is fine
                    self._give(generation, born, conn)
                raise
            except BaseException:
                self._give(generation, born, conn)
                raise
            else:
                self._give(generation, born, conn)
        finally:
            with self._lock:
                self._in_use -= 1
            self._slots.release()

    def _take(self) -> tuple[int, float, psycopg.Connection]:
        ledger = self._ledger
        with self._lock:
            self._in_use += 1
            entry, stale = ledger.take_idle()
            generation = ledger.generation
        for conn in stale:
            conn.close()
        if entry is not None:
            return entry
        conn = psycopg.connect(ledger.conninfo, **ledger.kwargs)
        with self._lock:
            ledger.stats.opened += 1
        return generation, time.monotonic(), conn

    def _give(self, generation: int, born: float, conn: psycopg.Connection) -> None:
        if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            try:
                conn.rollback()
            except psycopg.Error:
                conn.close()
                with self._lock:
                    self._ledger.broke()
                return
        with self._lock:
            kept = self._ledger.keep(generation, born, conn)
        if not kept:
            conn.close()

    def stats(self) -> PoolStats:
        with self._lock:
            return self._ledger.snapshot(self._in_use)

    def close(self) -> None:
        with self._lock:
            self._ledger.closed = True
            idle, self._ledger.idle = list(self._ledger.idle), deque()
        for _, _, conn in idle:
            conn.close()


class AsyncPool:
    """`Pool` for `async def` routes: the same rules on asyncio (one event loop: no lock needed
    between checking and taking an idle connection)."""

    def __init__(self, url: str, settings: Settings) -> None:
        self._ledger: _Ledger[psycopg.AsyncConnection] = _Ledger(url, settings)
        self._slots = asyncio.Semaphore(self._ledger.size)
        self._in_use = 0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        ledger = self._ledger
        if self._slots.locked():  # all busy (the usual case under load): wait, bounded
            try:
                # a timer, not wait_for's extra task per request
                async with asyncio.timeout(ledger.timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise ledger.timed_out() from None
        else:
            await self._slots.acquire()  # returns at once
        self._in_use += 1
        try:
            generation, born, conn = await self._take()
            try:
                yield conn
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    await conn.close()
                    ledger.broke()
                else:
                    await self._give(generation, born, conn)
                raise
            except BaseException:
                await self._give(generation, born, conn)
                raise
            else:
                await self._give(generation, born, conn)
        finally:
            self._in_use -= 1
            self._slots.release()

    async def _take(self) -> tuple[int, float, psycopg.AsyncConnection]:
        ledger = self._ledger
        entry, stale = ledger.take_idle()
        generation = ledger.generation
        for conn in stale:
            await conn.close()
        if entry is not None:
            return entry
        conn = await psycopg.AsyncConnection.connect(ledger.conninfo, **ledger.kwargs)
        ledger.stats.opened += 1
        return generation, time.monotonic(), conn

    async def _give(self, generation: int, born: float, conn: psycopg.AsyncConnection) -> None:
        if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            try:
                await conn.rollback()
            except psycopg.Error:
                await conn.close()
                self._ledger.broke()
                return
        if not self._ledger.keep(generation, born, conn):
            await conn.close()

    def stats(self) -> PoolStats:
        return self._ledger.snapshot(self._in_use)

    async def close(self) -> None:
        self._ledger.closed = True
        idle, self._ledger.idle = list(self._ledger.idle), deque()
        for _, _, conn in idle:
            await conn.close()


class Database:
    """The API process's connections: made from Settings, closed together at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.require_database_url()
        self.pool = Pool(self.url, settings)
        self.apool = AsyncPool(self.url, settings)
        self._write_lock = threading.Lock()
        self._write_engine: Engine | None = None

    def write_engine(self) -> Engine:
        """SQLAlchemy for the scheduler package's write code; made on first use (most API
        processes never write), with the pools' connection options."""
        with self._write_lock:
            if self._write_engine is None:
                settings = self.settings
                self._write_engine = make_engine(
                    "api",
                    self.url,
                    pool_size=WRITE_POOL_SIZE,
                    max_overflow=WRITE_MAX_OVERFLOW,
                    pool_timeout=settings.api_pool_timeout_s,
                    pool_recycle=settings.api_connection_max_lifetime_s,
                    connect_args=connect_kwargs(settings),
                )
            return self._write_engine

    def pool_stats(self) -> dict[str, PoolStats]:
        return {"sync": self.pool.stats(), "async": self.apool.stats()}

    async def close(self) -> None:
        self.pool.close()
        await self.apool.close()
        with self._write_lock:
            if self._write_engine is not None:
                self._write_engine.dispose()
