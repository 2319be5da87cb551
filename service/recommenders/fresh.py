"""The live path of the default ranking in the API: the user's row ranked now with the active
version's item model, by the refresh's own code (ranking/version_model.py).

A user who rated since their row was written is served live until the scheduler's refresh has
stored the new row (tens of milliseconds). Ranking them with the model this process holds gives
exactly the row the refresh will store -- one definition, one code -- for about the cost of
reading their ratings: at 25M ratings the live SQL statement took ~12 ms for a median user,
the model ~1 ms (docs/benchmarks.md, Freshness). The page is cut from that row by the stored
pages' own statement (weighted.GIVEN), so a page is the same whichever path served it.

Each API worker process holds one model, the active version's (every request ranks with it,
the dashboard's too; movies-sized: ~16 MB of RSS at 25M ratings). The first request that needs
a version's model loads it (~1 s at 25M ratings, once per worker and version); requests
arriving meanwhile rank in SQL rather than wait. Versions are keyed by database, number and
creation time, so a database made again under the same name never meets an old model.
"""

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import ConnectionInfo

from ranking import LIST_LENGTH
from ranking.version_model import PACKED_RATINGS, VersionModel, load_model, row_params, user_rows
from service.sql import DbConnection, Query, as_psycopg, fetch_one

M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h)

# The version (the active one when none is given), its identity, how many movies are hidden
# (how far a page's prefix must reach) and the user's ratings: one round trip.
INPUT = Query(
    """
    SELECT CAST(%(user_id)s AS integer) AS user_id, v.version, v.created_at,
           (SELECT count(*) FROM movies h WHERE h.hidden) AS hidden, ({ratings}) AS ratings
    FROM model_versions v
    WHERE v.version = coalesce(CAST(%(version)s AS integer), (SELECT a.version FROM active_model a))
    """.format(ratings=PACKED_RATINGS.format(users="ARRAY[%(user_id)s]")),
    {},
)


@dataclass(frozen=True)
class _Key:
    database: str
    version: int
    created_at: datetime


class VersionModels:
    """The item model this process ranks with (the active version's), loaded on first need,
    one load at a time."""

    def __init__(self) -> None:
        self._held: tuple[_Key, VersionModel] | None = None
        self._lock = threading.Lock()
        self._loading = threading.Lock()

    def loaded(self, key: _Key) -> VersionModel | None:
        with self._lock:
            return self._held[1] if self._held is not None and self._held[0] == key else None

    def get(self, conn: DbConnection, key: _Key) -> VersionModel | None:
        """The model, loaded now if nobody is loading one; None while another request loads."""
        if (model := self.loaded(key)) is not None:
            return model
        if not self._loading.acquire(blocking=False):
            return None
        try:
            if (model := self.loaded(key)) is not None:
                return model
            with self._lock:  # drop the old one first: one model in memory at a time
                self._held = None
            with _returning_temporaries():
                model = load_model(as_psycopg(conn), key.version)
            with self._lock:
                self._held = (key, model)
            return model
        finally:
            self._loading.release()

    def held(self) -> list[int]:
        """The version whose model this process holds, if any."""
        with self._lock:
            return [] if self._held is None else [self._held[0].version]

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Holds the loading turn: who needs a model meanwhile ranks in SQL."""
        with self._loading:
            yield

    def clear(self) -> None:
        with self._lock:
            self._held = None


MODELS = VersionModels()


@contextmanager
def _returning_temporaries() -> Iterator[None]:
    """Gives a load's temporaries (larger than the model) back to the system. By default glibc
    raises its mmap threshold to the largest block freed, so later blocks of a few MB land in
    the heap and stay there once freed: the process kept ~2x the model it holds (it runs in a
    threadpool thread's arena; tests/service/test_api_process.py bounds the API's growth). A
    fixed threshold (glibc's default 128 KiB) before and a trim after keep ~the model; on other
    C libraries this does nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):
        libc = None
    yield
    if libc is not None:
        libc.malloc_trim(0)


def fresh_row(
    conn: DbConnection, user_id: int, version: int | None, page_end: int | None
) -> dict[str, Any] | None:
    """The user's row of `version` (None: the active one) ranked now, as GIVEN's parameters:
    its first page_end + (hidden movies) entries, enough for a page that ends there (None: the
    whole LIST_LENGTH, for a genre filter). None when the model is being loaded by another
    request, or the row would be empty (no ratings, no candidates, a movie the version cannot
    rank): the caller ranks in SQL."""
    found = fetch_one(conn, INPUT, input_params(user_id, version))
    if found is None or not found.ratings:
        return None
    model = MODELS.get(conn, _key(as_psycopg(conn).info, found))
    return None if model is None else ranked_row(model, found, page_end)


def input_params(user_id: int, version: int | None) -> dict[str, Any]:
    return {"version": version, "user_id": user_id}


def loaded_model(info: ConnectionInfo, found: Any) -> VersionModel | None:
    """For the async hot path: the model if this process holds it (it never loads there)."""
    return MODELS.loaded(_key(info, found)) if found is not None and found.ratings else None


def ranked_row(model: VersionModel, found: Any, page_end: int | None) -> dict[str, Any] | None:
    """INPUT's row `found` ranked (see fresh_row)."""
    length = LIST_LENGTH if page_end is None else min(LIST_LENGTH, page_end + found.hidden)
    row = user_rows(model, found.ratings, length).get(found.user_id)
    if row is None or not row.movie_ids:
        return None
    return {"version": found.version, **row_params(row)}


def _key(info: ConnectionInfo, found: Any) -> _Key:
    return _Key(f"{info.host}:{info.port}/{info.dbname}", found.version, found.created_at)
