"""Freshness (issue 21): what a user who just rated is served, and how soon their stored list is
back. Writes the section "Freshness" of docs/benchmarks.md: one table, a column per database.

Per database (loaded and reclustered; `cinecluster db upgrade` is run first), one run of
`cinecluster serve` (1 worker) and `cinecluster scheduler` (a crontab that never fires during
the run), users that nobody has rated for since the active version's run (re-runs pick others):
  1. sequential, one keep-alive client, GET /recommend/user/{id}?n=10: per step an untouched user
     (stored list), then one POST /ratings for another user and that user's GET right after it;
     once all are refreshed, the rated users again; then the scheduler is stopped and the same
     with other users (every GET after a POST is ranked per request: the live path alone);
  2. refresh lag: from each POST's response to the first poll (every 10 ms, its own connection)
     that sees the user's row refreshed with that rating (refreshed_xid >= the rating's change);
  3. under load: wrk (2 threads, 16 connections) on untouched users, then on the stream's own
     users, each while a stream of ratings runs (one lane per user, 200 ratings/s in all, POST
     /ratings with the admin token); the refresh lag during it; the scheduler's VmHWM.
Every POST rates a movie the user has not rated (from their stored list, else the most rated;
rating_count > 20), the first one the top of their list: a GET that still lists it is stale.
Non-2xx answers and failed requests are errors, counted everywhere.

Databases are URLs or names on the server of $DATABASE_URL (default: local postgres). With
--data DIR a missing database is created from a `cinecluster synth` directory (load, recluster).
wrk: `apt-get install -y wrk`. Heavy: serialise with the others:
    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/freshness.py cc5m cc25m_fresh
Smoke check on a small database (under a minute, prints only):
    .venv/bin/python benchmarks/freshness.py --quick DB
"""

import argparse
import asyncio
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from cinecluster import databases

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from api import LUA  # noqa: E402  (wrk script: random ids from a file)
from load import machine, write_section  # noqa: E402  (benchmarks/load.py: shared helpers)
from serve_process import free_port, served  # noqa: E402  (`cinecluster serve`, as the API tests start it)

TOKEN = "bench-freshness-token"
NEVER = "0 3 1 1 *"  # the recluster cron: 1 January only, so no run starts during the benchmark
POLL_S = 0.010
STARS = [2.0, 3.0, 3.5, 4.0, 4.5, 5.0]

# Users whose stored row of the active version is current and was never refreshed: no change to
# their ratings since the run read them (nobody rated for them; a previous run of this script
# touched others). Their movies to rate: their stored list, then the most rated, never one
# they rated, rating_count > 20.
USERS = """
WITH v AS MATERIALIZED (SELECT a.version, m.ratings_snapshot
                        FROM active_model a JOIN model_versions m USING (version)),
picked AS MATERIALIZED (
    SELECT u.user_id, u.movie_ids
    FROM user_recommendations u, v
    WHERE u.version = v.version AND u.refreshed_xid IS NULL AND cardinality(u.movie_ids) >= 10
      AND NOT EXISTS (SELECT 1 FROM user_rating_changes c WHERE c.user_id = u.user_id
                      AND NOT pg_visible_in_snapshot(c.changed_xid, v.ratings_snapshot))
    ORDER BY hashint4(u.user_id # %(salt)s)
    LIMIT %(n)s
), popular AS MATERIALIZED (
    SELECT movie_id, 1000 + row_number() OVER (ORDER BY rating_count DESC, movie_id) AS pos
    FROM movie_features WHERE rating_count > 20
    ORDER BY rating_count DESC, movie_id LIMIT 500
)
SELECT p.user_id, ARRAY(
    SELECT c.movie_id
    FROM (SELECT t.movie_id, t.pos FROM unnest(p.movie_ids) WITH ORDINALITY t(movie_id, pos)
          UNION ALL SELECT movie_id, pos FROM popular) c
    JOIN movie_features f ON f.movie_id = c.movie_id AND f.rating_count > 20
    WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = p.user_id AND r.movie_id = c.movie_id)
    GROUP BY c.movie_id ORDER BY min(c.pos) LIMIT %(k)s) AS movies,
    p.movie_ids[1] AS top
FROM picked p
"""
PENDING = """
SELECT count(*) FROM user_rating_changes c, active_model a JOIN model_versions v USING (version)
WHERE NOT pg_visible_in_snapshot(c.changed_xid, v.ratings_snapshot)
  AND NOT EXISTS (SELECT 1 FROM user_recommendations u WHERE u.version = a.version
                  AND u.user_id = c.user_id AND u.refreshed_xid = c.changed_xid)
"""
CHANGE = "SELECT changed_xid::text FROM user_rating_changes WHERE user_id = %s"
REFRESHED = """
SELECT u.user_id, u.refreshed_xid::text, c.changed_xid::text, extract(epoch FROM c.changed_at)::float8
FROM user_recommendations u LEFT JOIN user_rating_changes c USING (user_id)
WHERE u.version = (SELECT version FROM active_model) AND u.user_id = ANY(%s)
"""


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def status_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


class Process:
    """A `cinecluster` command of this checkout; its output in a log file; SIGTERM to stop."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cinecluster", *args],
            env={**os.environ, **env, "PYTHONPATH": path},
            cwd=ROOT,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def check(self) -> None:
        if self.process.poll() is not None:
            raise SystemExit(f"{self.log.name} exited:\n{self.text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class RefreshWatcher(threading.Thread):
    """Polls the watched users' refreshed_xid every POLL_S from its own connection; keeps each
    change with the poll that first saw it and the one before (the refresh committed between)."""

    def __init__(self, url: str) -> None:
        super().__init__(name="refresh-watcher", daemon=True)
        self.conn = psycopg.connect(url, autocommit=True)
        self.users: set[int] = set()
        self.last: dict[int, int | None] = {}
        self.seen: dict[int, list[tuple[float, float, int, float]]] = {}  # (before, seen, xid, wall)
        self.changes: dict[int, dict[int, float]] = {}  # user -> changed_xid -> changed_at (epoch s)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.polls = 0

    def watch(self, user: int) -> None:
        with self.lock:
            self.users.add(user)

    def run(self) -> None:
        previous = time.perf_counter()
        while not self.stopping.is_set():
            with self.lock:
                users = list(self.users)
            start, wall = time.perf_counter(), time.time()
            rows = self.conn.execute(REFRESHED, (users,)).fetchall() if users else []
            self.polls += 1
            with self.lock:
                for user, xid, changed, changed_at in rows:
                    value = int(xid) if xid is not None else None
                    if user in self.last and value != self.last[user] and value is not None:
                        self.seen.setdefault(user, []).append((previous, start, value, wall))
                    self.last[user] = value
                    if changed is not None:
                        self.changes.setdefault(user, {}).setdefault(int(changed), changed_at)
            previous = start
            self.stopping.wait(max(0.0, POLL_S - (time.perf_counter() - start)))
        self.conn.close()

    def covered(self, user: int, xid: int) -> tuple[float, float] | None:
        """(last poll that did not see it, first poll that did) for the refresh of change `xid`."""
        with self.lock:
            return next(((b, s) for b, s, x, _w in self.seen.get(user, []) if x >= xid), None)

    def change_lags_ms(self, users: list[int]) -> tuple[list[float], int]:
        """From each change the polls saw (its transaction's start, the server's clock) to the
        first poll that saw the row refreshed with it; and how many were never refreshed."""
        lags, missing = [], 0
        with self.lock:
            for user in users:
                for xid, changed_at in self.changes.get(user, {}).items():
                    seen = next((w for _b, _s, x, w in self.seen.get(user, []) if x >= xid), None)
                    if seen is None:
                        missing += 1
                    else:
                        lags.append(max(0.0, seen - changed_at) * 1000)
        return lags, missing

    def wait_covered(self, ratings: list["Rating"], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self.covered(r.user, r.xid) for r in ratings):
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


@dataclass
class Rating:
    user: int
    movie: int
    responded: float  # perf_counter at the POST's response
    xid: int  # the change it made (user_rating_changes.changed_xid right after)
    got: tuple[float, float] = (0.0, 0.0)  # sequential: the GET right after the POST (start, end)


def lags_ms(watcher: RefreshWatcher, ratings: list[Rating]) -> tuple[list[float], int]:
    """Refresh lag per rating, and how many were never seen refreshed."""
    lags, missing = [], 0
    for r in ratings:
        seen = watcher.covered(r.user, r.xid)
        if seen is None:
            missing += 1
        else:
            lags.append(max(0.0, seen[1] - r.responded) * 1000)
    return lags, missing


@dataclass
class Errors:
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.count += 1
        if len(self.samples) < 10:
            self.samples.append(what)


class Client:
    """One keep-alive connection; non-2xx answers and failures are recorded, not raised."""

    def __init__(self, base: str, errors: Errors) -> None:
        self.http = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"})
        self.errors = errors

    def get(self, user: int) -> tuple[float, float, list[int] | None]:
        start = time.perf_counter()
        try:
            answer = self.http.get(f"/recommend/user/{user}", params={"n": 10})
        except httpx.HTTPError as error:
            self.errors.add(f"GET user {user}: {error!r}")
            return start, time.perf_counter(), None
        end = time.perf_counter()
        if not answer.is_success:
            self.errors.add(f"GET user {user}: {answer.status_code} {answer.text[:200]}")
            return start, end, None
        return start, end, [item["movieId"] for item in answer.json()]

    def post(self, user: int, movie: int, stars: float) -> tuple[float, float, bool]:
        start = time.perf_counter()
        try:
            answer = self.http.post("/ratings", json=[{"userId": user, "movieId": movie, "rating": stars}])
        except httpx.HTTPError as error:
            self.errors.add(f"POST user {user}: {error!r}")
            return start, time.perf_counter(), False
        if not answer.is_success:
            self.errors.add(f"POST user {user}: {answer.status_code} {answer.text[:200]}")
        return start, time.perf_counter(), answer.is_success


@dataclass
class Sequential:
    untouched_ms: list[float]
    rated_ms: list[float]
    post_ms: list[float]
    ratings: list[Rating]
    again_ms: list[float] = field(default_factory=list)
    served: tuple[int, int, int] = (0, 0, 0)  # GET after the POST: refreshed / live / can't tell
    stale: int = 0  # answers listing the movie the user had just rated
    differ: int = 0  # a live answer and the refreshed list of the same ratings not equal
    lags: list[float] = field(default_factory=list)
    unrefreshed: int = 0


def sequential(
    client: Client,
    untouched: list[int],
    rated: dict[int, list[int]],
    db: psycopg.Connection,
    rng: random.Random,
) -> tuple[Sequential, dict[int, list[int] | None]]:
    """Per step: GET an untouched user; POST one rating for a fresh user, GET them right after."""
    result = Sequential([], [], [], [])
    first: dict[int, list[int] | None] = {}
    for plain, (user, movies) in zip(untouched, rated.items(), strict=True):
        start, end, _ = client.get(plain)
        result.untouched_ms.append((end - start) * 1000)
        start, responded, ok = client.post(user, movies[0], rng.choice(STARS))
        result.post_ms.append((responded - start) * 1000)
        start, end, listed = client.get(user)
        result.rated_ms.append((end - start) * 1000)
        first[user] = listed
        result.stale += listed is not None and movies[0] in listed
        if ok:  # this user's only change: the rating just posted
            xid = db.execute(CHANGE, (user,)).fetchone()[0]  # type: ignore[index]
            result.ratings.append(Rating(user, movies[0], responded, int(xid), (start, end)))
    return result, first


def classify(
    watcher: RefreshWatcher,
    seq: Sequential,
    first: dict[int, list[int] | None],
    again: dict[int, list[int] | None],
) -> None:
    """Was the user's row refreshed before each GET right after a POST was sent (the stored row
    answered it) or after (ranked live; its answer is compared with the refreshed list of the
    same ratings)? Within one poll of the GET's start it cannot be told."""
    refreshed = live = unclear = 0
    for r in seq.ratings:
        sent = r.got[0]
        seen = watcher.covered(r.user, r.xid)
        if seen is not None and seen[1] <= sent:
            refreshed += 1
        elif seen is None or seen[0] >= sent:
            live += 1
            if first[r.user] is not None and again.get(r.user) is not None and first[r.user] != again[r.user]:
                seq.differ += 1
        else:
            unclear += 1
    seq.served = (refreshed, live, unclear)


@dataclass
class Stream:
    ratings: list[Rating]
    post_ms: list[float]
    seconds: float
    lags: list[float] = field(default_factory=list)  # per change the polls saw
    unrefreshed: int = 0
    changes: int = 0
    in_api: str = "-"  # the POSTs' p50 / p99 as the API's own histogram saw them (server_post)

    @property
    def rate(self) -> float:
        return len(self.post_ms) / self.seconds


def run_stream(
    base: str, plan: dict[int, list[int]], rate: float, seconds: float
) -> tuple[list[tuple[int, int, float]], list[float], float, list[str]]:
    """The stream, run in a process of its own (ProcessPoolExecutor): this one's threads (the
    refresh watcher, wrk's reader) and httpx's per-request cost kept it at ~75 of 200 ratings/s
    under wrk. (user, movie, responded) per accepted rating, POST times, seconds, errors."""
    return asyncio.run(_stream(base, plan, rate, seconds))


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes
) -> tuple[int, bytes]:
    """One POST /ratings on a keep-alive HTTP/1.1 connection: (status, body)."""
    writer.write(
        b"POST /ratings HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + TOKEN.encode()
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    return status, await reader.readexactly(int(length.group(1)) if length else 0)


async def _stream(
    base: str, plan: dict[int, list[int]], rate: float, seconds: float
) -> tuple[list[tuple[int, int, float]], list[float], float, list[str]]:
    """One lane per user, `rate` ratings/s in all, each user's POSTs one after the other on its
    own keep-alive connection (a late lane sends at once, never two at a time)."""
    users = list(plan)
    interval = len(users) / rate
    host, port = base.split("//", 1)[1].rsplit(":", 1)
    ratings: list[tuple[int, int, float]] = []
    post_ms: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()

    async def lane(i: int, user: int) -> None:
        rng = random.Random(user)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for k, movie in enumerate(plan[user]):
                due = t0 + (i / len(users) + k) * interval
                if due - t0 >= seconds or time.perf_counter() - t0 >= seconds:
                    return
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                body = f'[{{"userId": {user}, "movieId": {movie}, "rating": {rng.choice(STARS)}}}]'
                start = time.perf_counter()
                try:
                    status, answer = await _post(reader, writer, host, body.encode())
                except (OSError, asyncio.IncompleteReadError) as error:
                    errors.append(f"stream POST user {user}: {error!r}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                responded = time.perf_counter()
                post_ms.append((responded - start) * 1000)
                if not 200 <= status < 300:
                    errors.append(f"stream POST user {user}: {status} {answer[:200]!r}")
                    continue
                ratings.append((user, movie, responded))
        finally:
            writer.close()

    await asyncio.gather(*(lane(i, user) for i, user in enumerate(users)))
    return ratings, post_ms, time.perf_counter() - t0, errors


@dataclass
class Wrk:
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    timeouts: int


def _percentile_ms(out: str, percent: int) -> float:
    match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def wrk(port: int, ids: Path, seconds: int, script: Path) -> Wrk:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "--timeout", "5s", "-s", str(script)]
    command += [f"http://127.0.0.1:{port}/", "--", str(ids), "/recommend/user/", "?n=10"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    socket_errors = timeouts = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        socket_errors, timeouts = sum(int(x) for x in m.groups()[:3]), int(m.group(4))
    return Wrk(rps, _percentile_ms(out, 50), _percentile_ms(out, 99), non2xx, socket_errors, timeouts)


LEAD_S = 1.0  # the stream starts this much before wrk: every stream user has rated once


def under_load(
    base: str,
    url: str,
    ids: Path,
    plan: dict[int, list[int]],
    args: argparse.Namespace,
    watcher: RefreshWatcher,
    errors: Errors,
    script: Path,
) -> tuple[Wrk, Stream]:
    for user in plan:
        watcher.watch(user)
    before = post_buckets(base)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(int, 0).result()  # the child started and imported this script first
        stream = pool.submit(run_stream, base, plan, args.rate, LEAD_S + args.duration)
        time.sleep(LEAD_S)
        load = wrk(int(base.rsplit(":", 1)[1]), ids, args.duration, script)
        sent, post_ms, seconds, failures = stream.result()
    for failure in failures:
        errors.add(failure)
    # perf_counter is CLOCK_MONOTONIC: the child's response times compare with this process's
    result = Stream([Rating(user, movie, responded, 0) for user, movie, responded in sent], post_ms, seconds)
    result.in_api = server_post(before, post_buckets(base))
    deadline = time.monotonic() + 60
    while watcher.change_lags_ms(list(plan))[1] and time.monotonic() < deadline:
        time.sleep(0.1)
    result.lags, result.unrefreshed = watcher.change_lags_ms(list(plan))
    result.changes = sum(len(watcher.changes.get(u, {})) for u in plan)
    return load, result


_BUCKET = re.compile(r"^cinecluster_http_request_duration_seconds_bucket\{([^}]*)\} (\S+)$", re.MULTILINE)


def post_buckets(base: str) -> dict[float, float]:
    """POST /ratings' cumulative latency buckets (upper bound in s -> count) from /metrics."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    found = {}
    for labels, count in _BUCKET.findall(text):
        label = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if label.get("method") == "POST" and label.get("route") == "/ratings":
            found[float(label["le"])] = float(count)
    return found


def server_post(before: dict[float, float], after: dict[float, float]) -> str:
    """p50 / p99 of the POSTs between two scrapes, as the bucket each falls in ("<= bound"):
    the API's time for the request, without this script's own client (short of CPU under wrk)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if not total:
        return "-"

    def quantile(q: float) -> str:
        bound = next(b for b, c in zip(bounds, counts, strict=True) if c >= q * total)
        return "> 5,000" if math.isinf(bound) else f"<= {bound * 1000:,.0f}"

    return f"{quantile(0.5)} / {quantile(0.99)}"


@dataclass
class Result:
    label: str
    warm: Sequential  # scheduler running
    live: Sequential  # scheduler stopped
    baseline: Wrk  # wrk on untouched users, no stream
    untouched_load: tuple[Wrk, Stream]
    rated_load: tuple[Wrk, Stream]
    scheduler_hwm_mb: float
    errors: Errors
    batches: list[tuple[int, int]]  # scheduler log: (users, ms) per refresh batch
    log_problems: list[str]


def sh(*args: str, url: str) -> None:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-m", "cinecluster", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"cinecluster {' '.join(args)} failed:\n{done.stderr[-2000:]}")


def ensure(url: str, data: Path | None) -> None:
    """The database at the code's schema; created from `data` (load, recluster) when missing."""
    server = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    name = make_url(url).database
    exists = databases.exists(server, name)
    if not exists:
        if data is None:
            raise SystemExit(f"database {name} does not exist (pass --data DIR to create it)")
        databases.create_database(server, name)
    sh("db", "upgrade", url=url)
    if not exists:
        sh("load", str(data), url=url)
        sh("recluster", url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        # a fresh load or a copied database has no statistics until autovacuum's round: we
        # measure steady state, not the planner's guesses
        if not conn.execute("SELECT 1 FROM pg_stats WHERE tablename = 'ratings'").fetchone():
            print("ANALYZE (no statistics on ratings)", flush=True)
            conn.execute("ANALYZE")


def pick_users(url: str, sizes: dict[str, int], per_stream_user: int) -> dict[str, dict[int, list[int]]]:
    """Disjoint untouched users per role, with the movies each may rate (see USERS)."""
    total = sum(sizes.values())
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            USERS, {"salt": random.randrange(2**31), "n": total * 3 // 2, "k": per_stream_user}
        ).fetchall()
    roles: dict[str, dict[int, list[int]]] = {}
    rows = [r for r in rows if r[1]]
    for role, n in sizes.items():
        need = per_stream_user if role.startswith("stream") else 1
        chosen = [r for r in rows if len(r[1]) >= need][:n]
        if len(chosen) < n:
            raise SystemExit(
                f"only {len(chosen)} untouched users with {need} movies to rate for {role}, need {n}"
            )
        roles[role] = {user: movies for user, movies, _top in chosen}
        rows = [r for r in rows if r[0] not in roles[role]]
    return roles


def bench(url: str, args: argparse.Namespace, workdir: Path, logs: Path, script: Path) -> Result:
    ensure(url, args.data)
    with psycopg.connect(url) as conn:
        ratings, users = conn.execute(
            "SELECT (SELECT sum(rating_count) FROM movie_features),"
            " (SELECT count(*) FROM user_recommendations WHERE version = (SELECT version FROM active_model))"
        ).fetchone()  # type: ignore[misc]
    label = (
        f"{ratings / 1e6:.0f}M ratings, {users / 1000:.0f}k users"
        if ratings >= 1e6
        else f"{ratings:,} ratings"
    )
    print(f"== {make_url(url).database}: {label}", flush=True)
    per_stream_user = math.ceil((LEAD_S + args.duration) * args.rate / args.stream_users) + 2
    sizes = {
        "warm": 2,
        "seq_plain": args.users,
        "seq_rated": args.users,
        "live_plain": args.users,
        "live_rated": args.users,
        "wrk_plain": args.wrk_users,
        "stream1": args.stream_users,
        "stream2": args.stream_users,
    }
    roles = pick_users(url, sizes, per_stream_user)
    plain_ids, rated_ids = workdir / "untouched.txt", workdir / "rated.txt"
    plain_ids.write_text("\n".join(map(str, roles["wrk_plain"])) + "\n")
    rated_ids.write_text("\n".join(map(str, roles["stream2"])) + "\n")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"DATABASE_URL": url, "CINECLUSTER_ADMIN_TOKEN": TOKEN, "CINECLUSTER_RECLUSTER_CRON": NEVER}
    scheduler = Process(["scheduler"], env, logs / "scheduler.log")
    errors = Errors()
    watcher = RefreshWatcher(url)
    db = psycopg.connect(url, autocommit=True)
    rng = random.Random(0)
    try:
        with served(url, logs, token=TOKEN, env=env, port=port) as api:
            deadline = time.monotonic() + 300
            while "refresh: loaded version" not in scheduler.text() or db.execute(PENDING).fetchone()[0]:  # type: ignore[index]
                api.check()
                scheduler.check()
                if time.monotonic() > deadline:
                    raise SystemExit(f"the scheduler is not ready:\n{scheduler.text()[-2000:]}")
                time.sleep(0.2)
            client = Client(base, Errors())  # warm-up: its errors (the API starting) are not counted
            while client.get(next(iter(roles["wrk_plain"])))[2] is None:
                api.check()
                time.sleep(0.2)
            client.errors = errors
            watcher.start()
            for user in list(roles["wrk_plain"])[:20]:
                client.get(user)
            for user, movies in roles["warm"].items():  # the live path and a refresh, once each
                watcher.watch(user)
                client.post(user, movies[0], 4.0)
                client.get(user)

            for user in roles["seq_rated"]:
                watcher.watch(user)
            warm, first = sequential(client, list(roles["seq_plain"]), roles["seq_rated"], db, rng)
            watcher.wait_covered(warm.ratings, 60)
            again: dict[int, list[int] | None] = {}
            for r in warm.ratings:
                start, end, again[r.user] = client.get(r.user)
                warm.again_ms.append((end - start) * 1000)
                warm.stale += again[r.user] is not None and r.movie in again[r.user]  # type: ignore[operator]
            warm.lags, warm.unrefreshed = lags_ms(watcher, warm.ratings)
            classify(watcher, warm, first, again)
            print(f"sequential done: {len(warm.ratings)} rated", flush=True)

            baseline = wrk(port, plain_ids, args.duration, script)
            untouched_load = under_load(base, url, plain_ids, roles["stream1"], args, watcher, errors, script)
            rated_load = under_load(base, url, rated_ids, roles["stream2"], args, watcher, errors, script)
            hwm = status_kb(scheduler.process.pid, "VmHWM") / 1024
            print("under load done", flush=True)
            scheduler.stop()

            live, _ = sequential(client, list(roles["live_plain"]), roles["live_rated"], db, rng)
    finally:
        scheduler.stop()
        if watcher.is_alive():
            watcher.stop()
        db.close()
    batches = [
        (int(m.group(1)), int(m.group(2)))
        for m in re.finditer(r"refreshed (\d+) users of version \d+ in (\d+) ms", scheduler.text())
    ]
    problems = [
        f"{name}: {line.strip()}"
        for name, output in ((api.log_path.name, api.log()), (scheduler.log.name, scheduler.text()))
        for line in output.splitlines()
        if re.search(r"WARNING|ERROR|Traceback|Exception", line)
    ]
    return Result(label, warm, live, baseline, untouched_load, rated_load, hwm, errors, batches, problems)


def ms(values: list[float]) -> str:
    return f"{pct(values, 50):.1f} / {pct(values, 99):.1f}" if values else "-"


def versus(values: list[float], reference: list[float]) -> str:
    if not values or not reference:
        return "-"
    ratios = [pct(values, q) / pct(reference, q) for q in (50, 99)]
    return f"{ms(values)} ({ratios[0]:.1f}x / {ratios[1]:.1f}x)"


def lag(values: list[float], missing: int) -> str:
    text = f"{ms(values)} (max {max(values):.0f})" if values else "-"
    return text + (f", {missing} not refreshed in 60 s" if missing else "")


def batches(logged: list[tuple[int, int]]) -> str:
    longest = max((ms for _users, ms in logged), default=0)
    return f"{len(logged)}, {sum(users for users, _ms in logged)}, {longest} ms"


def wrk_cell(load: Wrk) -> str:
    return (
        f"{load.rps:,.0f} req/s, {load.p50_ms:.1f} / {load.p99_ms:.1f} ms,"
        f" {load.non2xx} non-2xx / {load.socket_errors} socket errors / {load.timeouts} timeouts"
    )


def load_cells(run: tuple[Wrk, Stream], target: float) -> list[str]:
    load, stream = run
    return [
        wrk_cell(load),
        f"{stream.rate:.0f}/s of {target:.0f}/s; POST {ms(stream.post_ms)} ms"
        f" (in the API's histogram: {stream.in_api} ms)",
        lag(stream.lags, stream.unrefreshed) + f"; {stream.changes} of {len(stream.ratings)} ratings seen",
    ]


def table(results: list[Result], args: argparse.Namespace) -> str:
    n = args.users
    rows: list[tuple[str, list[str]]] = [
        (f"**Sequential**, one keep-alive client, {n} users per row (p50 / p99 ms)", [""] * len(results)),
        ("untouched users: the stored list", [ms(r.warm.untouched_ms) for r in results]),
        (
            "just rated: GET right after one POST /ratings, scheduler running (vs untouched)",
            [versus(r.warm.rated_ms, r.warm.untouched_ms) for r in results],
        ),
        (
            "... the row refreshed before the GET was sent / after (ranked live) / within a poll",
            [" / ".join(map(str, r.warm.served)) for r in results],
        ),
        (
            "the same users again, once refreshed (vs untouched)",
            [versus(r.warm.again_ms, r.warm.untouched_ms) for r in results],
        ),
        ("POST /ratings, one rating", [ms(r.warm.post_ms) for r in results]),
        (
            "refresh lag: POST's response to the row refreshed (ms)",
            [lag(r.warm.lags, r.warm.unrefreshed) for r in results],
        ),
        ("scheduler stopped: untouched users", [ms(r.live.untouched_ms) for r in results]),
        (
            "scheduler stopped: just rated, the live path alone (vs untouched)",
            [versus(r.live.rated_ms, r.live.untouched_ms) for r in results],
        ),
        (
            f"**Under load**: wrk {args.duration} s, 2 threads, 16 connections (req/s, p50 / p99 ms,"
            f" errors), while {args.stream_users} users post {args.rate:.0f} ratings/s in all",
            [""] * len(results),
        ),
    ]
    rows.append(("wrk on untouched users, no stream (baseline)", [wrk_cell(r.baseline) for r in results]))
    for name, key in (("untouched users", "untouched_load"), ("the stream's own users", "rated_load")):
        cells = [load_cells(getattr(r, key), args.rate) for r in results]
        rows += [
            (f"wrk on {name}, with the stream", [c[0] for c in cells]),
            ("... the stream: ratings/s sent, POST p50 / p99", [c[1] for c in cells]),
            ("... refresh lag during it, from the rating's transaction (ms)", [c[2] for c in cells]),
        ]
    rows += [
        ("scheduler peak RSS (VmHWM)", [f"{r.scheduler_hwm_mb:,.0f} MB" for r in results]),
        (
            "refresh batches: count, users, longest",
            [batches(r.batches) for r in results],
        ),
        (
            "stale answers (listing the movie just rated) / live answer unlike the refreshed list",
            [f"{r.warm.stale + r.live.stale} / {r.warm.differ}" for r in results],
        ),
        ("errors outside wrk (non-2xx, failed requests)", [str(r.errors.count) for r in results]),
        ("warnings or errors in the API's and scheduler's logs", [str(len(r.log_problems)) for r in results]),
    ]
    lines = [
        "| | " + " | ".join(r.label for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines)


MAKING_DATABASES = (
    "A missing database is created from a synth directory by a run with `--data` (load, recluster):"
    " `freshness.py cc25m --data ../bench-data/synth25m` (`cinecluster synth` defaults) and"
    " `freshness.py cc5m --data ../bench-data/synth5m` (`cinecluster synth --out ../bench-data/synth5m"
    " --users 32000 --movies 30000 --ratings 5000000`)."
)
INTRO = """`benchmarks/freshness.py` (issue 21): `GET /recommend/user/{id}?n=10` for users who have not
rated since the active version's run (their stored list) and for users right after one `POST
/ratings` each: the API ranks them per request, with the refresh's code and the active version's
model it holds (`service/recommenders/fresh.py`), until the scheduler's refresh has stored their
new row (`scheduler/refresh.py`), then serves the stored row again. One run per database of `cinecluster
serve` (1 worker) and `cinecluster scheduler`; the refresh lag is from the POST's response to the
first poll (every 10 ms, its own connection) that sees the user's row refreshed with that rating;
under load, from the rating's transaction (`user_rating_changes.changed_at`, as the polls saw it)
instead, so that the load on this script's own client does not blur it.
Ratios are p50 / p99 against the untouched users measured interleaved in the same phase. Every
POST rates a movie the user had not rated, the first one from the top of their stored list, so an
answer that still lists it is stale."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "databases", nargs="*", default=["cc5m", "cc25m_fresh"], help="URLs or database names"
    )
    parser.add_argument("--data", type=Path, help="create a missing database from this synth directory")
    parser.add_argument("--users", type=int, default=150, help="users per sequential row")
    parser.add_argument("--wrk-users", type=int, default=2000, help="untouched users wrk picks from")
    parser.add_argument("--stream-users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200, help="ratings/s of the stream, in all")
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--quick", action="store_true", help="smoke check: 20 users, 3 s wrk, prints only")
    parser.add_argument("--logs", type=Path, help="keep the API's and scheduler's logs in this directory")
    parser.add_argument("--no-write", action="store_true", help="print instead of writing docs/benchmarks.md")
    args = parser.parse_args()
    if args.quick:
        args.users, args.wrk_users, args.stream_users, args.duration, args.no_write = 20, 100, 20, 3, True
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    server = server.replace("postgresql+psycopg://", "postgresql://", 1)
    urls = [
        db if "://" in db else make_url(server).set(database=db).render_as_string(hide_password=False)
        for db in args.databases
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="cinecluster-freshness-") as tmp:
        script = Path(tmp) / "ids.lua"
        script.write_text(LUA)
        for url in urls:
            logs = Path(tmp)
            if args.logs:
                logs = args.logs / (make_url(url).database or "db")
                logs.mkdir(parents=True, exist_ok=True)
            results.append(bench(url, args, Path(tmp), logs, script))
            for problem in results[-1].errors.samples + results[-1].log_problems[:20]:
                print("  !", problem, flush=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    command = "flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/freshness.py " + " ".join(
        make_url(u).database or u for u in urls
    )
    body = "\n\n".join(
        [
            INTRO,
            table(results, args),
            f"Machine: {machine()}; 2 cores shared by the API, the scheduler, PostgreSQL, wrk, this"
            f" script and other engineers' work (load average {load} at the end). Run on {stamp} UTC.",
            f"Reproduce: `{command}`. {MAKING_DATABASES}",
        ]
    )
    print(body, flush=True)
    if not args.no_write:
        write_section("Freshness", body)


if __name__ == "__main__":
    main()
