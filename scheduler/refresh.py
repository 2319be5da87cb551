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
rating makes it stale at once (the API then ranks the user itself, with the same code:
service/recommenders/fresh.py) and pending again. Nothing is
kept in memory between batches but the model, so a killed scheduler loses nothing: the start-up
scan is the same query. Users whose ratings the version cannot rank (a movie it has no cluster
for) get an empty row: marked done, served live. Memory: one version's item model and cluster
labels (movies-sized) and one batch's ratings.
"""

import logging
import time

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer

from cinecluster.activation import REFRESH_CHANNEL
from cinecluster.db import raw_connection
from ranking.version_model import EMPTY_ROW, VersionModel, load_model, read_ratings, row_params, user_rows
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
            packed = read_ratings(raw_connection(snapshot), [p.user_id for p in pending])
    rows = user_rows(model, packed)
    params = [
        {"version": model.version, "user_id": p.user_id, "xid": p.changed_xid}
        | row_params(rows.get(p.user_id, EMPTY_ROW))  # no ratings left: an empty row, served live
        for p in pending
    ]
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
                self.model = load_model(raw_connection(conn), active.version)
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
