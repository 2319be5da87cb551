"""Threads of the scheduler process woken by a PostgreSQL NOTIFY, with a poll as the fallback."""

import contextlib
import logging
import threading
import time

import psycopg
from sqlalchemy import Engine

from cinecluster.db import libpq_url
from cinecluster.errors import UserError, first_line
from cinecluster.settings import get_settings

log = logging.getLogger(__name__)

DRAIN_S = 0.01  # after a notification, how long to collect the ones right behind it


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

    def wait(self) -> list[str] | None:
        """The payloads of the notifications that ended the wait (with any that came within
        DRAIN_S after the first), or None when it ended otherwise: the poll, stop(), or a new
        connection (something may have been missed: look at everything)."""
        if self._conn is None:
            self._conn = psycopg.connect(
                libpq_url(self.engine.url.render_as_string(hide_password=False)),
                autocommit=True,
                application_name=self.name,
                connect_timeout=get_settings().connect_timeout_s,
            )
            self._conn.execute(f"LISTEN {self.channel}")
            return None  # something sent before LISTEN took effect: look once more before waiting
        deadline = time.monotonic() + self.poll_s
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            payloads = [n.payload for n in self._conn.notifies(timeout=min(left, 1.0), stop_after=1)]
            if payloads:  # a burst is served as one: take what else is already queued
                return payloads + [n.payload for n in self._conn.notifies(timeout=DRAIN_S)]
        return None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


class NotifiedWorker(threading.Thread):
    """Calls `work()` at start, then each time `channel` is notified (or poll_s passed), until
    stop(). An error is logged in one line and retried after poll_s: the database may be away,
    and whatever was left to do is still recorded in it."""

    def __init__(self, engine: Engine, channel: str, poll_s: float, *, label: str, listen_as: str) -> None:
        super().__init__(name=label, daemon=True)
        self.engine = engine
        self.poll_s = poll_s
        self.label = label
        self.stopping = threading.Event()
        self._notifies = NotifyWaiter(engine, channel, poll_s, self.stopping, listen_as)

    def work(self, payloads: list[str] | None) -> None:
        """Do what is due: `payloads` of the notifications that woke it, None = look at everything."""
        raise NotImplementedError

    def run(self) -> None:
        payloads = None  # at start: everything
        while not self.stopping.is_set():
            try:
                self.work(payloads)
                payloads = self._notifies.wait()
            except UserError as error:  # e.g. a requested run with too few movies: recorded on it
                log.warning("%s: %s", self.label, error)
                payloads = None
            except Exception as error:
                if self.stopping.is_set():  # stopping: the server may be going away with us
                    break
                log.warning("%s: %s; retrying in %g s", self.label, first_line(error), self.poll_s)
                self._notifies.close()
                self.stopping.wait(self.poll_s)
                payloads = None
        self._notifies.close()

    def stop(self) -> None:
        self.stopping.set()
