"""Stored rankings refreshed between runs: a user who rated is served from a stored list again
within seconds, ranked by the same code as the run's (ranking/users.py).

Every statement that changes ratings notes the users in user_rating_changes and NOTIFYs
REFRESH_CHANNEL at commit (revision 0009); so does every activation. `RatingsRefresher`, a
thread of the scheduler process, LISTENs there (polling as the fallback) and each time works
through the *pending* users of the active version -- those whose last change the version's run
did not see and whose row was not refreshed after it -- `batch_users` at a time:

  1. one REPEATABLE READ snapshot: the batch's change notes and all of their ratings;
  2. rank them with the version's `Ranker` (kept while the version stays active);
  3. one short transaction: upsert their rows with refreshed_xid = the change each one saw.

A row refreshed after change X is current while X is still the user's last change: a newer
rating makes it stale at once (the API then ranks live in SQL) and pending again. Nothing is
kept in memory between batches but the model, so a killed scheduler loses nothing: the start-up
scan is the same query. Users whose ratings the version cannot rank (a movie it has no cluster
for) get an empty row: marked done, served live. Memory: one version's item model and cluster
labels (movies-sized) and one batch's ratings.
"""

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, Engine, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer

from cinecluster.activation import REFRESH_CHANNEL
from ranking.users import Ranker, ratings_from
from scheduler.notify import NotifiedWorker
from scheduler.pending import PENDING_WHERE

log = logging.getLogger(__name__)

LOCK_TIMEOUT = "2s"  # a refresh gives way to a prune or a load instead of queueing the API behind it

_ACTIVE = text(
    """
    SELECT a.version, v.ratings_snapshot IS NOT NULL AS has_snapshot
    FROM active_model a JOIN model_versions v USING (version)
    """
)
# int4 movie id, int2 cluster / float4 weight, float8 ln(1 + ratings): packed by PostgreSQL,
# decoded by numpy (no Python object per row; ~600k weights at 25M ratings)
_CLUSTERS = text(
    """
    SELECT string_agg(int4send(movie_id) || int2send(cluster), ''::bytea ORDER BY movie_id)
    FROM movie_clusters WHERE version = :v
    """
)
_WEIGHTS = text(
    """
    SELECT string_agg(int4send(movie_id) || int4send(neighbour_id) || float4send(weight)
                      || float8send(neighbour_log_pop), ''::bytea)
    FROM item_weights WHERE version = :v
    GROUP BY movie_id / 256
    """
)
_SUCCESSORS = text(
    """
    SELECT string_agg(int4send(movie_id) || int4send(successor_id) || float4send(weight)
                      || float8send(successor_log_pop), ''::bytea)
    FROM item_successors WHERE version = :v
    GROUP BY movie_id / 256
    """
)
_CLUSTER_ROW = np.dtype([("movie", ">i4"), ("cluster", ">i2")])
_WEIGHT_ROW = np.dtype([("movie", ">i4"), ("neighbour", ">i4"), ("weight", ">f4"), ("log_pop", ">f8")])

_PENDING = text(
    f"""
    SELECT c.user_id, c.changed_xid::text AS changed_xid
    FROM user_rating_changes c
    WHERE {PENDING_WHERE}
    ORDER BY c.changed_at, c.user_id
    LIMIT :limit
    """
)
# The same among the users a notification named: primary-key lookups, however many users
# changed since the run (the scan above reads them all).
_PENDING_OF = text(
    f"""
    SELECT c.user_id, c.changed_xid::text AS changed_xid
    FROM user_rating_changes c
    WHERE c.user_id = ANY(:users) AND {PENDING_WHERE}
    ORDER BY c.changed_at, c.user_id
    """
).bindparams(bindparam("users", type_=ARRAY(Integer)))
_RATINGS = text(
    """
    SELECT string_agg(int4send(user_id) || int4send(movie_id) || int2send((rating * 2)::int2)
                      || int8send((extract(epoch FROM ts) * 1000000)::int8), ''::bytea)
    FROM ratings WHERE user_id = ANY(:users)
    """
).bindparams(bindparam("users", type_=ARRAY(Integer)))
_RATING_ROW = np.dtype([("user", ">i4"), ("movie", ">i4"), ("half_stars", ">i2"), ("micros", ">i8")])
_UPSERT = text(
    """
    INSERT INTO user_recommendations
        (version, user_id, movie_ids, scores, source_ids, cluster_shares, refreshed_xid)
    VALUES (:version, :user_id, :movie_ids, :scores, :source_ids, :cluster_shares, CAST(:xid AS xid8))
    ON CONFLICT (version, user_id) DO UPDATE SET
        movie_ids = excluded.movie_ids, scores = excluded.scores, source_ids = excluded.source_ids,
        cluster_shares = excluded.cluster_shares, refreshed_xid = excluded.refreshed_xid
    """
)


@dataclass
class VersionModel:
    """What ranking a user for `version` needs: its movies, their clusters, the item model."""

    version: int
    ids: np.ndarray  # the version's movie ids, ascending (movie index -> id)
    ranker: Ranker


def load_model(conn: Connection, version: int) -> VersionModel:
    """The version's item model as the run's Ranker had it (same weights, clusters, popularity)."""
    packed = conn.execute(_CLUSTERS, {"v": version}).scalar()
    clusters = np.frombuffer(packed or b"", dtype=_CLUSTER_ROW)
    ids = clusters["movie"].astype(np.int64)
    log_pop = np.zeros(len(ids))  # only candidates (some movie's neighbours) need it
    weights = _item_table(conn, _WEIGHTS, version, ids, log_pop)
    successors = _item_table(conn, _SUCCESSORS, version, ids, log_pop)
    labels = clusters["cluster"].astype(np.int64)
    return VersionModel(version, ids, Ranker(weights, labels, log_pop, successors=successors))


def _item_table(
    conn: Connection, query: TextClause, version: int, ids: np.ndarray, log_pop: np.ndarray
) -> sp.csr_matrix:
    """A movie x movie table of the version (item_weights, item_successors); fills in the
    log_pop of the movies it points to."""
    chunks = [np.frombuffer(c, dtype=_WEIGHT_ROW) for (c,) in conn.execute(query, {"v": version})]
    rows = np.concatenate(chunks) if chunks else np.empty(0, dtype=_WEIGHT_ROW)
    source, neighbour = np.searchsorted(ids, rows["movie"]), np.searchsorted(ids, rows["neighbour"])
    n = len(ids)
    log_pop[neighbour] = rows["log_pop"]
    return sp.csr_matrix((rows["weight"].astype(np.float64), (source, neighbour)), shape=(n, n))


def refresh_batch(engine: Engine, model: VersionModel, limit: int, among: list[int] | None = None) -> int:
    """Refresh up to `limit` pending users of `model.version` (only users in `among` if given;
    then all of those pending); how many were pending."""
    with engine.connect() as conn:
        snapshot = conn.execution_options(isolation_level="REPEATABLE READ")
        with snapshot.begin():
            snapshot.execute(text("SET LOCAL jit = off"))  # milliseconds of work: compiling costs more
            if among is None:
                pending = snapshot.execute(_PENDING, {"v": model.version, "limit": limit}).all()
            else:
                pending = snapshot.execute(_PENDING_OF, {"v": model.version, "users": among}).all()
            if not pending:
                return 0
            users = [p.user_id for p in pending]
            packed = snapshot.execute(_RATINGS, {"users": users}).scalar()
    rows = np.frombuffer(packed or b"", dtype=_RATING_ROW)
    columns = {f: rows[f].astype(np.int64) for f in ("user", "movie", "half_stars", "micros")}
    ratings = ratings_from(columns, model.ids, "")
    lists, shares = model.ranker.rank(ratings)
    position = {int(u): i for i, u in enumerate(ratings.users)}
    listed = {int(u): i for i, u in enumerate(lists.user)}
    empty: dict[str, list[int] | list[float]] = {"movie_ids": [], "scores": [], "source_ids": []}
    params = []
    for p in pending:
        row: dict[str, object] = {"version": model.version, "user_id": p.user_id, "xid": p.changed_xid}
        i = position.get(p.user_id)
        if i is None or ratings.stale[i]:  # no ratings left, or one the version cannot rank
            row.update(empty, cluster_shares=[])
        else:
            row["cluster_shares"] = shares[i].tolist()
            j = listed.get(i)
            if j is None:
                row.update(empty)
            else:
                part = slice(lists.offsets[j], lists.offsets[j + 1])
                row["movie_ids"] = model.ids[lists.movie[part]].tolist()
                row["scores"] = lists.score[part].tolist()
                row["source_ids"] = lists.source_ids(model.ids)[part].tolist()
        params.append(row)
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        conn.execute(_UPSERT, params)
    return len(pending)


class RatingsRefresher(NotifiedWorker):
    """Keeps the active version's stored rankings current for users who rate (see above)."""

    def __init__(self, engine: Engine, poll_s: float, batch_users: int) -> None:
        super().__init__(
            engine, REFRESH_CHANNEL, poll_s, label="refresh", listen_as="cinecluster-scheduler-refresh"
        )
        self.batch_users = batch_users
        self.model: VersionModel | None = None

    def work(self, payloads: list[str] | None) -> None:
        named = _users_named(payloads)
        self.refresh_pending(named)

    def refresh_pending(self, users: set[int] | None = None) -> int:
        """Refresh every pending user of the active version (only among `users` if given), a
        batch at a time; how many. A new active version means a scan of everyone: who changed
        since its run's snapshot is pending whether named or not."""
        done = 0
        held = self.model.version if self.model is not None else None
        todo = sorted(users) if users is not None else None
        while not self.stopping.is_set() and (model := self._current_model()) is not None:
            if model.version != held:
                todo, held = None, model.version
            start = time.perf_counter()
            if todo is None:
                n = refresh_batch(self.engine, model, self.batch_users)
            elif todo:
                n = refresh_batch(self.engine, model, self.batch_users, todo[: self.batch_users])
                todo = todo[self.batch_users :]
            else:
                break
            if n == 0 and todo is None:
                break
            if n:
                done += n
                ms = 1000 * (time.perf_counter() - start)
                log.info("refreshed %d users of version %d in %.0f ms", n, model.version, ms)
        return done

    def _current_model(self) -> VersionModel | None:
        """The active version's model, loaded again only when the active version changed; None
        when there is no model or its run recorded no snapshot (its lists are never served)."""
        with self.engine.connect() as conn:
            active = conn.execute(_ACTIVE).one_or_none()
            if active is None or not active.has_snapshot:
                self.model = None
                return None
            if self.model is None or self.model.version != active.version:
                self.model = None  # drop the old one before loading: one model in memory at a time
                start = time.perf_counter()
                self.model = load_model(conn, active.version)
                log.info(
                    "refresh: loaded version %d (%d movies) in %.1f s",
                    active.version,
                    len(self.model.ids),
                    time.perf_counter() - start,
                )
        return self.model


def _users_named(payloads: list[str] | None) -> set[int] | None:
    """The user ids the notifications named; None when any of them did not (look at all)."""
    if not payloads or any(not p for p in payloads):
        return None
    return {int(u) for p in payloads for u in p.split(",")}
