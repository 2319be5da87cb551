"""Users who rate are served from a stored list again once the scheduler refreshed them
(scheduler/refresh.py): the refreshed list is the run's ranking code on their new ratings,
equal to the live SQL ranking, never holding a movie they rated; a newer rating makes it stale
at once; a killed scheduler loses nothing; a recluster in the middle of a stream of ratings
leaves every user either refreshed for the new version or served live."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from api_helpers import auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from cinecluster.db import raw_connection
from ranking import LIST_LENGTH
from ranking.version_model import load_model
from scheduler.job import run_recluster
from scheduler.refresh import RatingsRefresher, refresh_batch
from service.recommenders import ListRequest, ease
from service.recommenders.weighted import STORED
from service.sql import fetch_all

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample

WAIT_S = 60.0  # upper bound for the scheduler to react; the tests wait for a state, not a time


def _version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM active_model")).scalar_one())


def _stored(engine: Engine, user_id: int, version: int, n: int = 10) -> list:  # type: ignore[type-arg]
    page = {"user_id": user_id, "version": version, "genre": None, "n": n, "offset": 0}
    with engine.connect() as conn:
        return ease.RANKING.rows(fetch_all(conn, STORED[False], page))


def _live(engine: Engine, user_id: int, version: int, n: int = 10) -> list:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return ease.RANKING.live(conn, user_id, ListRequest(n, 0, None, version))


def _row(engine: Engine, user_id: int, version: int):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT movie_ids, scores, source_ids, cluster_shares, refreshed_xid::text AS xid"
                " FROM user_recommendations WHERE version = :v AND user_id = :u"
            ),
            {"v": version, "u": user_id},
        ).one_or_none()


def _pending(engine: Engine, version: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    """
                    SELECT count(*) FROM user_rating_changes c
                    WHERE NOT pg_visible_in_snapshot(c.changed_xid,
                              (SELECT ratings_snapshot FROM model_versions WHERE version = :v))
                      AND NOT EXISTS (SELECT 1 FROM user_recommendations u WHERE u.version = :v
                                      AND u.user_id = c.user_id AND u.refreshed_xid = c.changed_xid)
                    """
                ),
                {"v": version},
            ).scalar_one()
        )


def _unrated(engine: Engine, user_id: int, count: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT movie_id FROM movie_features WHERE rating_count > 20 AND movie_id NOT IN"
                    " (SELECT movie_id FROM ratings WHERE user_id = :u) ORDER BY movie_id LIMIT :n"
                ),
                {"u": user_id, "n": count},
            ).scalars()
        )


def _rate(client: TestClient, user_id: int, movie_id: int, rating: float = 5.0) -> None:
    body = [{"userId": user_id, "movieId": movie_id, "rating": rating}]
    response = client.post("/ratings", json=body, headers=auth())
    assert response.status_code == 201, response.text


def _refresh_all(engine: Engine) -> int:
    refresher = RatingsRefresher(engine, poll_s=1.0, batch_users=7)  # small batches: several rounds
    return refresher.refresh_pending()


def test_refreshing_unchanged_ratings_writes_the_runs_row_again(writable: tuple[TestClient, Engine]) -> None:
    """The refresh is the run's ranking code: same ratings, same model -> the same row, bit for bit."""
    _, engine = writable
    version = _version(engine)
    users = list(range(1, 611, 12))
    before = {u: _row(engine, u, version) for u in users}
    with engine.begin() as conn:  # a change note per user, ratings as they were
        conn.execute(text("UPDATE ratings SET rating = rating WHERE user_id = ANY(:u)"), {"u": users})
    assert all(_stored(engine, u, version) == [] for u in users)  # not served until refreshed
    assert _refresh_all(engine) == len(users)
    for u in users:
        after = _row(engine, u, version)
        assert after.xid is not None and before[u].xid is None
        assert after[:4] == before[u][:4], u
        assert len(_stored(engine, u, version)) == 10


def test_a_refreshed_list_reflects_the_rating_and_equals_the_live_ranking(
    writable: tuple[TestClient, Engine],
) -> None:
    client, engine = writable
    version = _version(engine)
    users = [1, 68, 414, 599, 610]  # light to heavy raters
    rated = {}
    for u in users:
        top = client.get(f"/recommend/user/{u}", params={"n": 10}).json()[0]["movieId"]
        _rate(client, u, top)  # the current top item: it must never come back
        rated[u] = top
    assert _refresh_all(engine) == len(users)
    assert _pending(engine, version) == 0
    for u in users:
        stored = _stored(engine, u, version, n=LIST_LENGTH)
        assert len(stored) == LIST_LENGTH
        assert stored == _live(engine, u, version, n=LIST_LENGTH)
        assert rated[u] not in {r.movie_id for r in stored}
        served = client.get(f"/recommend/user/{u}", params={"n": 10}).json()
        assert [i["movieId"] for i in served] == [r.movie_id for r in stored[:10]]


def test_a_new_user_is_refreshed_too(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    version = _version(engine)
    movies = _unrated(engine, 99_999, 6)
    for movie in movies:
        _rate(client, 99_999, movie, 4.5)
    assert _row(engine, 99_999, version) is None
    _refresh_all(engine)
    stored = _stored(engine, 99_999, version)
    assert len(stored) == 10 and stored == _live(engine, 99_999, version)
    assert not set(movies) & {r.movie_id for r in stored}


def test_a_rating_after_the_refresh_makes_the_row_stale_at_once(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    version = _version(engine)
    first, second = _unrated(engine, 1, 2)
    _rate(client, 1, first)
    _refresh_all(engine)
    assert len(_stored(engine, 1, version)) == 10
    _rate(client, 1, second, 1.0)
    assert _stored(engine, 1, version) == []  # stale: the API ranks live until the next refresh
    live = _live(engine, 1, version)
    assert [i["movieId"] for i in client.get("/recommend/user/1", params={"n": 10}).json()] == [
        r.movie_id for r in live
    ]
    _refresh_all(engine)
    assert _stored(engine, 1, version) == live


def test_a_user_the_version_cannot_rank_is_marked_done_and_served_live(
    writable: tuple[TestClient, Engine],
) -> None:
    """A movie added after the run and rated at once has no cluster in the version: the refresh
    writes an empty row (nothing pending), and the API keeps ranking the user live."""
    client, engine = writable
    version = _version(engine)
    with engine.begin() as conn:  # a DB admin's insert: no cluster placed for it
        conn.execute(
            text("INSERT INTO movies (movie_id, title, genres) VALUES (999999, 'Unplaced (2026)', '{}')")
        )
    _rate(client, 1, 999_999)
    assert _refresh_all(engine) == 1
    assert _pending(engine, version) == 0
    assert _row(engine, 1, version).movie_ids == []
    assert len(client.get("/recommend/user/1", params={"n": 10}).json()) == 10


@pytest.fixture
def scheduler(writable: tuple[TestClient, Engine]) -> Iterator["Scheduler"]:
    handle = Scheduler(str(writable[1].url.render_as_string(hide_password=False)))
    yield handle
    handle.stop()


class Scheduler:
    """`cinecluster scheduler` as a subprocess (its log lines in a queue), startable again."""

    def __init__(self, url: str) -> None:
        self.env = {**os.environ, "DATABASE_URL": url, "CINECLUSTER_SCHEDULER_POLL_S": "30"}
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cinecluster", "scheduler"],
            env=self.env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        stream = self.process.stderr
        assert stream is not None
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()
        self.wait_for("scheduler started")

    def wait_for(self, needle: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                if needle in self.lines.get(timeout=left):
                    return
            except queue.Empty:
                break
        pytest.fail(f"the scheduler did not log {needle!r} within {WAIT_S:g} s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT_S)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=WAIT_S)


def _until_refreshed(engine: Engine, user_id: int, version: int) -> None:
    """Until the user's row was refreshed after their last change (the state, polled)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            current = conn.execute(
                text(
                    "SELECT u.refreshed_xid = c.changed_xid FROM user_rating_changes c"
                    " JOIN user_recommendations u ON u.user_id = c.user_id AND u.version = :v"
                    " WHERE c.user_id = :u"
                ),
                {"u": user_id, "v": version},
            ).scalar()
        if current:
            return
        time.sleep(0.05)  # polling the state the test waits for, not a guess at a duration
    pytest.fail(f"user {user_id} was not refreshed within {WAIT_S:g} s")


def test_the_scheduler_refreshes_a_posted_rating_and_catches_up_after_a_kill(
    writable: tuple[TestClient, Engine], scheduler: Scheduler
) -> None:
    client, engine = writable
    version = _version(engine)
    scheduler.start()
    movie, later = _unrated(engine, 68, 2)
    _rate(client, 68, movie)
    _until_refreshed(engine, 68, version)  # woken by the NOTIFY of the ratings trigger
    stored = _stored(engine, 68, version)
    assert stored == _live(engine, 68, version) and movie not in {r.movie_id for r in stored}

    scheduler.kill()
    _rate(client, 68, later, 0.5)
    _rate(client, 414, movie)
    for user in (68, 414):  # nobody refreshes: served live, correctly
        assert _stored(engine, user, version) == []
        served = [i["movieId"] for i in client.get(f"/recommend/user/{user}", params={"n": 10}).json()]
        assert served == [r.movie_id for r in _live(engine, user, version)]
    scheduler.start()  # the start-up scan finds the backlog
    for user in (68, 414):
        _until_refreshed(engine, user, version)
        assert _stored(engine, user, version) == _live(engine, user, version)


def test_a_recluster_during_a_stream_of_ratings(writable: tuple[TestClient, Engine]) -> None:
    """Ratings keep arriving while a run reads, ranks and activates: afterwards every user who
    rated is, once refreshed, served a list of the new version equal to its live ranking, and
    before that never a stored list that misses a rating."""
    client, engine = writable
    old = _version(engine)
    refresher = RatingsRefresher(engine, poll_s=0.2, batch_users=5)
    refresher.start()
    stop = threading.Event()
    raters = list(range(1, 120, 3))
    rated: dict[int, set[int]] = {u: set() for u in raters}
    served_rated: list[tuple[int, int, int]] = []

    def stream() -> None:
        i = 0
        candidates = {u: iter(_unrated(engine, u, 50)) for u in raters}
        while not stop.is_set():
            user = raters[i % len(raters)]
            movie = next(candidates[user])
            _rate(client, user, movie, 4.0 + (i % 3) / 2)
            rated[user].add(movie)
            for version in {old, _version(engine)}:  # whatever is served now misses no rating
                if movie in {r.movie_id for r in _stored(engine, user, version, n=LIST_LENGTH)}:
                    served_rated.append((user, movie, version))
            i += 1

    writer = threading.Thread(target=stream)
    writer.start()
    try:
        new = run_recluster(engine, trigger="cli").version
    finally:
        stop.set()
        writer.join()
    assert new != old and _version(engine) == new
    deadline = time.monotonic() + WAIT_S
    while _pending(engine, new) and time.monotonic() < deadline:
        refresher.refresh_pending()  # the thread refreshes too; this just waits for the state
    refresher.stop()
    refresher.join(WAIT_S)
    assert _pending(engine, new) == 0
    assert served_rated == []
    changed = [u for u in raters if rated[u]]
    assert len(changed) > 5  # the stream did run across the recluster
    for user in changed:
        stored = _stored(engine, user, new)
        assert stored == _live(engine, user, new), user
        assert not rated[user] & {r.movie_id for r in stored}


def test_load_model_reads_the_versions_item_model(writable: tuple[TestClient, Engine]) -> None:
    _, engine = writable
    version = _version(engine)
    with engine.connect() as conn:
        model = load_model(raw_connection(conn), version)
        weights = conn.execute(
            text("SELECT count(*) FROM item_weights WHERE version = :v"), {"v": version}
        ).scalar_one()
    assert model.ranker.scratch.weights.nnz == weights > 0
    assert len(model.ids) == 9742
    assert refresh_batch(engine, model, 10) == 0  # nothing changed: nothing pending


def test_the_admin_api_reports_the_refresh_backlog(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    state = client.get("/admin/scheduler", headers=auth()).json()
    assert (state["refreshPending"], state["refreshOldestSeconds"]) == (0, None)
    for user, movie in ((1, _unrated(engine, 1, 1)[0]), (68, _unrated(engine, 68, 1)[0])):
        _rate(client, user, movie)
    state = client.get("/admin/scheduler", headers=auth()).json()
    assert state["refreshPending"] == 2 and state["refreshOldestSeconds"] >= 0
    _refresh_all(engine)
    state = client.get("/admin/scheduler", headers=auth()).json()
    assert (state["refreshPending"], state["refreshOldestSeconds"]) == (0, None)


def test_a_notification_naming_users_refreshes_just_them(writable: tuple[TestClient, Engine]) -> None:
    """The trigger's NOTIFY names the users (scheduler/refresh.py looks only at them): a named
    user is refreshed, another pending one waits for a scan."""
    client, engine = writable
    version = _version(engine)
    refresher = RatingsRefresher(engine, poll_s=1.0, batch_users=7)
    assert refresher.refresh_pending() == 0  # the start-up scan: loads the model, finds nothing
    for user in (1, 68):
        _rate(client, user, _unrated(engine, user, 1)[0])
    assert refresher.refresh_pending({68, 70}) == 1  # 70 never rated since: not pending
    assert _stored(engine, 1, version) == [] and len(_stored(engine, 68, version)) == 10
    assert _pending(engine, version) == 1
    assert refresher.refresh_pending() == 1


def test_the_trigger_names_the_users_of_a_statement(writable: tuple[TestClient, Engine]) -> None:
    _, engine = writable
    listener = engine.raw_connection()
    try:
        listener.driver_connection.autocommit = True  # type: ignore[union-attr]
        listener.driver_connection.execute("LISTEN cinecluster_refresh")  # type: ignore[union-attr]
        with engine.begin() as conn:
            conn.execute(text("UPDATE ratings SET rating = rating WHERE user_id IN (3, 1)"))
        with engine.begin() as conn:
            conn.execute(text("UPDATE ratings SET rating = rating WHERE user_id <= 150"))
        got = [n.payload for n in listener.driver_connection.notifies(timeout=5, stop_after=2)]  # type: ignore[union-attr]
    finally:
        listener.close()
    assert got == ["1,3", ""]  # more than 100 users: "scan them all"
