"""Waiting for a PostgreSQL NOTIFY on a connection of one's own, with a poll as the fallback."""

import contextlib
import threading
import time

import psycopg
from sqlalchemy import Engine

from cinecluster.db import libpq_url


class NotifyWaiter:
    """LISTENs on `channel` (connecting lazily); `wait()` returns at a notification, after
    `poll_s`, or when `stopping` is set. A lost notification (one sent while disconnected, or
    before LISTEN took effect) costs at most one poll interval."""

    def __init__(
        self, engine: Engine, channel: str, poll_s: float, stopping: threading.Event, name: str
    ) -> None:
        self.engine = engine
        self.channel = channel
        self.poll_s = poll_s
        self.stopping = stopping
        self.name = name
        self._conn: psycopg.Connection | None = None

    def wait(self) -> None:
        if self._conn is None:
            self._conn = psycopg.connect(
                libpq_url(self.engine.url.render_as_string(hide_password=False)),
                autocommit=True,
                application_name=self.name,
            )
            self._conn.execute(f"LISTEN {self.channel}")
            return  # something sent before LISTEN took effect: look once more before waiting
        deadline = time.monotonic() + self.poll_s
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            for _ in self._conn.notifies(timeout=min(left, 1.0), stop_after=1):
                return

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
