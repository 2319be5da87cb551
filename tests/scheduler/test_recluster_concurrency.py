"""One run at a time, readers always see one complete version, dead runs are recognised."""

import os
import threading
from collections.abc import Iterator

import pytest
from recluster_factories import make_catalogue
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from cinecluster.tables import recluster_runs
from scheduler import runs
from scheduler.job import run_recluster, run_requested, run_steps
from scheduler.steps import default_write_steps
from scheduler.versions import WriteContext

WAIT = 60  # seconds; a timeout only turns a hang into a failure


class Gate:
    """A write step that stops the run inside its transaction until the test releases it."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def __call__(self, conn: Connection, context: WriteContext) -> None:
        self.inside.set()
        assert self.release.wait(WAIT), "test never released the run"


def _run_in_thread(engine: Engine, gate: Gate, errors: list[BaseException]) -> threading.Thread:
    def work() -> None:
        try:
            run_recluster(engine, k=3, write_steps=[gate])
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    assert gate.inside.wait(WAIT)
    return thread


@pytest.fixture
def small(engine: Engine) -> Engine:
    make_catalogue(engine)
    return engine


def _snapshot(conn: Connection) -> list[tuple[int, int, int]]:
    """(version, movies, neighbour rows) of the active version, in ONE statement."""
    rows = conn.execute(
        text("""
            SELECT c.model_version, count(*),
                   (SELECT count(*) FROM movie_neighbours n
                    JOIN active_model a ON n.version = a.version)
            FROM current_movie_clusters c GROUP BY c.model_version
        """)
    )
    return [tuple(r) for r in rows]


def test_a_reader_polling_during_a_run_always_sees_one_complete_version(small: Engine) -> None:
    run_recluster(small, k=3)
    with small.connect() as conn:
        (complete,) = _snapshot(conn)
    seen: list[list[tuple[int, int, int]]] = []
    stop = threading.Event()
    polled_during_run = threading.Event()
    gate = Gate()

    def poll() -> None:
        reader = create_engine(small.url)
        with reader.connect() as conn:
            while not stop.is_set():
                seen.append(_snapshot(conn))
                conn.rollback()
                if gate.inside.is_set() and not gate.release.is_set():
                    polled_during_run.set()
        reader.dispose()

    poller = threading.Thread(target=poll)
    poller.start()
    errors: list[BaseException] = []
    writer = _run_in_thread(small, gate, errors)
    assert polled_during_run.wait(WAIT)
    gate.release.set()
    writer.join(WAIT)
    with small.connect() as conn:
        after = _snapshot(conn)
    stop.set()
    poller.join(WAIT)

    assert errors == []
    assert after[0][0] == 2
    # never two versions in one answer, never none (tests/scheduler: scheduler.job._activate)
    assert all(len(s) == 1 for s in seen), [s for s in seen if len(s) != 1][:3]
    versions = {s[0][0] for s in seen}
    assert versions <= {1, 2} and 1 in versions
    assert all(s[0][1:] == complete[1:] for s in seen)  # always every movie and every neighbour
    assert after[0][1:] == complete[1:]


def test_two_concurrent_triggers_give_one_run_and_a_clear_refusal(small: Engine, run_cli) -> None:  # type: ignore[no-untyped-def]
    gate = Gate()
    errors: list[BaseException] = []
    writer = _run_in_thread(small, gate, errors)
    try:
        with pytest.raises(runs.ReclusterAlreadyRunning, match=r"already in progress \(run 1, trigger cli"):
            run_recluster(small, k=3, trigger="cron")
        with pytest.raises(runs.ReclusterAlreadyRunning) as refused, small.begin() as conn:
            runs.request(conn, "api", {})
        assert refused.value.status_code == 409
        cli = run_cli("recluster", "--k", "3")
    finally:
        gate.release.set()
        writer.join(WAIT)
    assert errors == []
    assert cli.exit_code == 2
    assert cli.stderr.startswith("error: a recluster run is already in progress (run 1")
    assert cli.stderr.count("\n") == 1
    with small.connect() as conn:
        rows = conn.execute(select(recluster_runs.c.status, recluster_runs.c.version)).all()
    assert [tuple(r) for r in rows] == [("succeeded", 1)]


def test_a_requested_run_is_claimed_once_with_its_options(small: Engine) -> None:
    with small.begin() as conn:
        run_id = runs.request(conn, "api", {"k": 3, "seed": 5})
    with pytest.raises(runs.ReclusterAlreadyRunning, match=rf"already requested \(run {run_id}, trigger api"):
        run_recluster(small, k=3)  # the CLI does not jump the queue
    result = run_requested(small)
    assert result is not None and result.run_id == run_id
    assert run_requested(small) is None  # nothing left to claim
    with small.connect() as conn:
        row = conn.execute(select(recluster_runs).where(recluster_runs.c.run_id == run_id)).one()
    assert (row.trigger, row.status, row.version) == ("api", "succeeded", 1)
    assert row.options == {"k": 3, "seed": 5}
    with small.connect() as conn:
        k = conn.execute(text("SELECT params->>'k' FROM model_versions WHERE version = 1")).scalar_one()
    assert k == "3"  # the requested options were used
    assert row.started_at >= row.requested_at and row.runner.endswith(f":{os.getpid()}")
    steps = run_steps_of(result)
    assert (row.step, row.step_index, row.step_count) == ("prune", len(steps), len(steps))


def run_steps_of(_result: object) -> list[str]:
    from scheduler.job import _place_late_arrivals

    return run_steps([*default_write_steps(), _place_late_arrivals])


@pytest.fixture
def admin(small: Engine) -> Iterator[Engine]:
    engine = create_engine(small.url)
    yield engine
    engine.dispose()


def test_a_killed_run_is_recognised_as_stale_and_the_lock_is_free_again(small: Engine, admin: Engine) -> None:
    lease = runs.acquire(small, "cron")  # a run whose process then dies
    with admin.connect() as conn:
        conn.execute(select(func.pg_terminate_backend(lease.backend_pid)))
        conn.commit()
        still_running = conn.execute(select(recluster_runs.c.status)).scalar_one()
        conn.rollback()
        with conn.begin():
            stale = runs.mark_stale_runs(conn)
    assert still_running == "running"
    assert stale == [lease.run_id]
    result = run_recluster(small, k=3)  # the dead session's lock is gone
    assert result.version == 1
    with small.connect() as conn:
        rows = conn.execute(
            select(recluster_runs.c.status, recluster_runs.c.error).order_by(recluster_runs.c.run_id)
        ).all()
    assert rows[0].status == "failed" and rows[0].error.startswith("stale:")
    assert rows[1].status == "succeeded"


def test_a_new_run_marks_leftover_running_rows_failed(small: Engine) -> None:
    with small.begin() as conn:
        conn.execute(recluster_runs.insert().values(trigger="cron", status="running", backend_pid=None))
    run_recluster(small, k=3)
    with small.connect() as conn:
        statuses = conn.execute(select(recluster_runs.c.status).order_by(recluster_runs.c.run_id)).scalars()
        assert list(statuses) == ["failed", "succeeded"]


def test_simultaneous_requests_get_one_run_and_the_database_enforces_it(small: Engine) -> None:
    with small.connect() as first, small.connect() as second:
        with first.begin():
            run_id = runs.request(first, "api", {})  # not committed yet while the second arrives
            with pytest.raises(runs.ReclusterAlreadyRunning), second.begin():
                runs.request(second, "api", {})
        refused = pytest.raises(runs.ReclusterAlreadyRunning, match=rf"already requested \(run {run_id},")
        with refused, second.begin():
            runs.request(second, "api", {})
    with pytest.raises(IntegrityError), small.begin() as conn:  # the index behind it, whoever inserts
        conn.execute(recluster_runs.insert().values(trigger="cli", status="running"))
    with small.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recluster_runs)).scalar_one() == 1
