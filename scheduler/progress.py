"""Where a run is: its current step (and the step's progress, where a step can tell), recorded in
recluster_runs as the run goes and handed to listeners (the CLI's progress display).

The run's own connection is inside its write transaction for most of the run, so the step is
written on a second, short-lived-transaction connection: visible to `GET /admin/runs` at once.
Recording is best effort: a failed progress write is logged, never fails the run.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from scheduler import runs

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 1.0  # in-step progress is written at most this often (every step change is written)


@dataclass(frozen=True)
class StepUpdate:
    run_id: int
    step: str
    index: int  # 1-based
    count: int
    fraction: float | None  # share of this step done, None when the step cannot tell
    finished: bool = False  # the run has ended: the last update a listener gets
    ok: bool = True  # with finished: whether the run succeeded


Listener = Callable[[StepUpdate], None]


class RunProgress:
    """The steps of one run, in order; `start(step)` as each begins, `advance(f)` within one."""

    def __init__(
        self, engine: Engine, run_id: int, steps: Sequence[str], listeners: Sequence[Listener] = ()
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.steps = list(steps)
        self.listeners = list(listeners)
        self.current: StepUpdate | None = None
        self._conn: Connection | None = None
        self._written = 0.0

    def start(self, step: str) -> None:
        index = self.steps.index(step) + 1 if step in self.steps else len(self.steps)
        self._update(StepUpdate(self.run_id, step, index, len(self.steps), None), force=True)

    def advance(self, fraction: float) -> None:
        if self.current is not None:
            fraction = min(max(fraction, 0.0), 1.0)
            current = self.current
            self._update(StepUpdate(self.run_id, current.step, current.index, current.count, fraction))

    def finish(self, ok: bool) -> None:
        """The run ended: listeners close their display; the row keeps the last step reached."""
        if self.current is not None:
            now = self.current
            self._notify(
                StepUpdate(self.run_id, now.step, now.index, now.count, now.fraction, finished=True, ok=ok)
            )
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _update(self, update: StepUpdate, force: bool = False) -> None:
        self.current = update
        self._notify(update)
        now = time.monotonic()
        if force or now - self._written >= MIN_INTERVAL_S:
            self._written = now
            self._record(update)

    def _notify(self, update: StepUpdate) -> None:
        for listener in self.listeners:
            try:
                listener(update)
            except Exception:  # a display must not break a run
                log.exception("progress listener failed")

    def _record(self, update: StepUpdate) -> None:
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
            with self._conn.begin():
                runs.record_step(
                    self._conn, self.run_id, update.step, update.index, update.count, update.fraction
                )
        except Exception as error:
            log.warning("could not record the step of run %s: %s", self.run_id, error)
            if self._conn is not None:
                self._conn.invalidate()
                self._conn.close()
                self._conn = None
