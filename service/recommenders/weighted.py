"""The two item-table rankings, one SQL: the user's liked movies x a per-movie weight table.

Both `ease` (default, item_weights: the EASE item model) and `liked_neighbours`
(item_neighbours: co-rating cosines) rank a user's candidates the same way, from the ratings
and the active version:
  liked    = the user's ratings >= 4 or >= their own mean (the most recent PROFILE_CAP of them);
  sum      = sum of the table's weights from the liked movies, over movies the user has not
             rated; candidates are the movies whose sum is positive;
  score    = sum / the user's best sum
             + W_AFFINITY * share of the user's liked movies in the candidate's cluster
             + W_POPULARITY * ln(1 + ratings of the candidate), divided by the candidates' max.
The cluster boost keeps the clusters as the explanation; the reason names the cluster and the
liked movie the candidate owes most to. When the candidates run out (a user whose liked movies
have no weights yet), the list continues with the most rated movies. A genre filter applies to
the ranking (scores are normalised over all candidates first), and so does `exclude`
(service/recommenders/skip.py).

The default table's ranking has three ways to the same list:
  stored - the recluster run ranked every user (scheduler/user_lists.py) into
           user_recommendations; while none of the user's rating changes (user_rating_changes,
           kept by triggers on ratings) committed outside the snapshot the run read the ratings
           under, or the scheduler's refresh re-ranked them after their last change, a page is
           one row and n movie lookups (the common case: ~a pk lookup);
  fresh  - for a user who rated since (ratings count immediately): their row ranked now by the
           refresh's own code with the version's model held in the process
           (service/recommenders/fresh.py), its page cut by the stored pages' template (GIVEN);
  live   - the same formula in SQL, per request: while the process loads the model, pages past
           the stored LIST_LENGTH, users whose row would be empty, and new users.
tests/service/test_api_stored_lists.py checks stored and live give the same pages for every
user, tests/service/test_api_fresh.py fresh against both. The live statement is one template
whose profile is read either from the ratings table or from a basket sent with the request (POST
/recommend/session, service/recommenders/session.py): tests/service/test_api_session.py checks a
user's ratings sent as a basket get that user's list.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from sqlalchemy import text

from ranking import (
    PROFILE_CAP,
    RECENCY,
    SEQUENCE_DECAY,
    SEQUENCE_RECENT,
    W_AFFINITY,
    W_POPULARITY,
    W_SEQUENCE,
)
from ranking.liked import liked_sql
from service.recommenders import neighbours as in_cluster
from service.recommenders.fresh import INPUT, fresh_row, input_params, loaded_model, ranked_row
from service.recommenders.skip import (
    SKIP_COUNT,
    SKIP_CTE,
    allowed,
    exclude_param,
    no_skip_by_default,
    skipped,
)
from service.recommenders.types import ListRequest, Recommendation
from service.sql import DbConnection, Query, afetch_all, compile_sql, fetch_all, fetch_value

# The stored list, only while it is current: the user's last rating change (if any) is visible
# in the snapshot the recluster run read the ratings under, or is the change the scheduler's
# refresh ranked the row after (refreshed_xid), i.e. the list already reflects it (a primary-key
# lookup in a small table; reading the user's ratings instead cost 3.5x the rest at 25M ratings).
# A version without a snapshot (written before revision 0006) is never served from here. For a
# row `u` of user_recommendations joined to its model_versions row `v`; {user} is the user id.
STORED_IS_CURRENT = """v.ratings_snapshot IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM user_rating_changes c
                      WHERE c.user_id = {user}
                        AND c.changed_xid IS DISTINCT FROM u.refreshed_xid
                        AND NOT pg_visible_in_snapshot(c.changed_xid, v.ratings_snapshot))"""
# The stored pages: the rows of one user's list (GET /recommend/user) or of many users' lists
# (POST /recommend/users, service/recommenders/batch.py), one template so both read the stored
# list by the same rules. For a row `u` of user_recommendations joined to its model_versions row
# `v` and the positions `l` ({positions}: a LATERAL over u's arrays); {users} picks the users,
# {page} filters, orders and cuts their rows.
_STORED = """
    WITH {skip}
    SELECT {user_column}l.movie_id, m.title, m.genres, mc.cluster, l.score,
           coalesce(u.cluster_shares[mc.cluster + 1], 0) AS share, sm.title AS source_title,
           l.source_id < 0 AS just_rated
    FROM {lists}
    CROSS JOIN LATERAL ({positions}) l
    JOIN movies m ON m.movie_id = l.movie_id
    LEFT JOIN movie_clusters mc ON mc.version = u.version AND mc.movie_id = l.movie_id
    LEFT JOIN movies sm ON sm.movie_id = abs(l.source_id)  -- negative: a recent rating's successor
    WHERE {where}
      {page}
"""
_STORED_LISTS = "user_recommendations u JOIN model_versions v ON v.version = u.version"
# A list ranked just now by the version's model (service/recommenders/fresh.py), given as the
# row the refresh will store, so its pages come from the same template as the stored ones.
_GIVEN_LIST = """(SELECT CAST(:version AS integer) AS version, CAST(:movie_ids AS integer[]) AS movie_ids,
           CAST(:scores AS float8[]) AS scores, CAST(:source_ids AS integer[]) AS source_ids,
           CAST(:cluster_shares AS float8[]) AS cluster_shares) u"""


def stored_pages_sql(
    *, version: str, users: str, user: str, positions: str, page: str, with_user: bool
) -> str:
    """The stored-page SELECT: `version` the version expression, `users` the condition on
    u.user_id, `user` the user id for STORED_IS_CURRENT; `with_user` leads each row with its
    user_id (for many users)."""
    return _STORED.format(
        skip=SKIP_CTE,
        user_column="u.user_id, " if with_user else "",
        lists=_STORED_LISTS,
        positions=positions,
        where=f"u.version = {version} AND {users} AND {STORED_IS_CURRENT.format(user=user)}",
        page=page,
    )


# Without a genre the page comes from a prefix of the arrays: the page's end plus as many as
# the skip list could remove (unnesting all LIST_LENGTH and joining them to movies cost ~15% of
# the statement); the skipped ones leave before the page is cut, so it stays full. With a genre,
# every position's genres are needed first.
STORED_PREFIX_POSITIONS = """
        SELECT p.* FROM unnest(u.movie_ids[1 : {end}], u.scores[1 : {end}], u.source_ids[1 : {end}])
                        WITH ORDINALITY AS p(movie_id, score, source_id, position)
        WHERE NOT {skipped}
        ORDER BY p.position LIMIT :n OFFSET :offset""".format(
    end=f":offset + :n + {SKIP_COUNT}", skipped=skipped("p.movie_id")
)
_STORED_PAGE = {
    False: {"positions": STORED_PREFIX_POSITIONS, "page": "ORDER BY l.position"},
    True: {
        "positions": "SELECT * FROM unnest(u.movie_ids, u.scores, u.source_ids)"
        " WITH ORDINALITY AS p(movie_id, score, source_id, position)",
        "page": f"""AND CAST(:genre AS text) = ANY (m.genres) AND {allowed("m")}
      ORDER BY l.position
      LIMIT :n OFFSET :offset""",
    },
}
_ACTIVE = "(SELECT a.version FROM active_model a)"
WHOLE_LIST = 1000  # rows per movie in any item table: at most --ease-k (<= 1000) or TOP_N (50)


def _stored(version: str) -> dict[bool, Query]:
    """The stored-page statement per "has a genre filter", for a version expression. Without a
    genre filter only the page's positions are joined to movies (n lookups, not LIST_LENGTH)."""
    return {
        with_genre: no_skip_by_default(
            compile_sql(
                text(
                    stored_pages_sql(
                        version=version,
                        users="u.user_id = :user_id",
                        user=":user_id",
                        with_user=False,
                        **page,
                    )
                )
            )
        )
        for with_genre, page in _STORED_PAGE.items()
    }


# By the version parameter, or with the active version looked up in the same statement (the hot
# path: one round trip per request).
STORED = _stored(":version")
STORED_ACTIVE = _stored(_ACTIVE)


def _given(with_genre: bool) -> Query:
    """The page of a list given as parameters (_GIVEN_LIST). Its arrays are sent in binary
    (psycopg's %b): 0.4 ms less than parsing their text per request."""
    sql = _STORED.format(
        skip=SKIP_CTE, user_column="", lists=_GIVEN_LIST, where="true", **_STORED_PAGE[with_genre]
    )
    query = no_skip_by_default(compile_sql(text(sql)))
    for array in ("movie_ids", "scores", "source_ids", "cluster_shares"):
        query = replace(query, sql=query.sql.replace(f"%({array})s", f"%({array})b"))
    return query


GIVEN = {with_genre: _given(with_genre) for with_genre in (False, True)}

_LIKED = liked_sql("r.rating", "(SELECT avg(rating) FROM rated)")
RATED_FROM = {
    "user": "SELECT r.movie_id, r.rating, r.ts FROM ratings r WHERE r.user_id = :user_id",
    # POST /recommend/session: the basket as arrays (service/recommenders/session.py)
    "basket": "SELECT b.movie_id, b.rating, to_timestamp(b.epoch) AS ts FROM unnest("
    "CAST(:basket_ids AS integer[]), CAST(:basket_ratings AS real[]), CAST(:basket_epochs AS float8[])"
    ") AS b(movie_id, rating, epoch)",
}


def _float8_array(values: tuple[float, ...]) -> str:
    """A float8[] literal of exactly these values (repr round-trips; PostgreSQL parses it exact)."""
    return "ARRAY[" + ", ".join(repr(v) for v in values) + "]::float8[]"


# The live ranking (ranking/__init__.py's definition in SQL). The table ({table}: item_weights
# or item_neighbours) carries each neighbour's cluster and ln(1 + ratings), so the candidates
# are ranked from one table; movies are looked up only for the page. Shaped by EXPLAIN
# (ANALYZE, BUFFERS) at 25M ratings (benchmarks/dashboard.py): the user's ratings are read once
# (mean, recency, profile, recent, exclusion); the liked movies' clusters are primary-key
# probes (a join hashed all of movie_clusters); rated neighbours leave before the sum, by a
# hash of the user's ratings (for heavy raters that is half the expanded rows, which the sum
# and the sources then skip). Every contribution is exact in float8 (weights and recency
# weights are multiples of powers of two), so any plan sums to the numpy ranker's bits.
# {rated} is where the profile comes from, as (movie_id, rating, ts) rows: one template for a
# user's ratings and a request's basket (RATED_FROM), so the two rank by one statement.
_CANDIDATES = """
    WITH {skip}, rated AS MATERIALIZED (
        SELECT r.movie_id, r.rating, r.ts,
               row_number() OVER (ORDER BY r.ts DESC, r.movie_id DESC) - 1 AS recency
        FROM ({rated}) r
    ), liked AS (
        SELECT r.movie_id, r.rating, r.ts, r.recency, {profile_weight} AS weight
        FROM rated r
        WHERE {liked}
        ORDER BY r.ts DESC, r.movie_id DESC
        LIMIT :cap
    ), affinity AS (
        SELECT l.cluster, count(*)::float8 / sum(count(*)) OVER () AS share
        FROM (SELECT (SELECT mc.cluster FROM movie_clusters mc
                      WHERE mc.version = :version AND mc.movie_id = l.movie_id) AS cluster
              FROM liked l) l
        GROUP BY l.cluster
        HAVING l.cluster IS NOT NULL  -- before the window's sum, as the join it replaces
    ), expanded AS MATERIALIZED (
        SELECT n.neighbour_id, n.movie_id AS source_id, n.{score} AS similarity,
               {weighted}n.{score}::float8 AS contribution,
               n.neighbour_cluster, n.neighbour_log_pop
        FROM liked l
        JOIN {table} n ON n.version = :version AND n.movie_id = l.movie_id
        WHERE NOT EXISTS (SELECT 1 FROM rated r WHERE r.movie_id = n.neighbour_id)
    ){following}, candidates AS (
        SELECT e.neighbour_id AS movie_id, sum(e.item) AS similarity, sum(e.next) AS next,
               min(e.neighbour_cluster) AS cluster, min(e.neighbour_log_pop) AS log_pop
        FROM ({contributions}) e
        GROUP BY e.neighbour_id
        HAVING sum(e.item) > 0 OR sum(e.next) > 0
    ), terms AS (
        SELECT c.movie_id, c.cluster, c.log_pop,
               c.similarity / coalesce(nullif(greatest(max(c.similarity) OVER (), 0), 0), 1) AS item,
               {next_term} AS next
        FROM candidates c
    ), scored AS (
        SELECT t.movie_id, t.cluster, coalesce(a.share, 0) AS share,
               t.item {plus_next}+ :w_affinity * coalesce(a.share, 0)
               + :w_popularity * coalesce(t.log_pop / nullif(max(t.log_pop) OVER (), 0), 0) AS score,
               t.next > t.item AS just_rated
        FROM terms t
        LEFT JOIN affinity a ON a.cluster = t.cluster
    )
"""
# The next-movie component: the successors of the user's newest ratings, rated ones left out.
_FOLLOWING = f"""
    , following AS MATERIALIZED (
        SELECT s.successor_id AS neighbour_id, s.movie_id AS source_id, s.weight AS similarity,
               ({_float8_array(SEQUENCE_DECAY)})[r.recency + 1] * s.weight::float8 AS contribution,
               s.successor_cluster AS neighbour_cluster, s.successor_log_pop AS neighbour_log_pop
        FROM rated r
        JOIN item_successors s ON s.version = :version AND s.movie_id = r.movie_id
        WHERE r.recency < {SEQUENCE_RECENT}
          AND NOT EXISTS (SELECT 1 FROM rated x WHERE x.movie_id = s.successor_id)
    )"""
_CONTRIBUTIONS = """
            SELECT neighbour_id, contribution AS item, 0::float8 AS next, neighbour_cluster, neighbour_log_pop
            FROM expanded"""
_NEXT_CONTRIBUTIONS = """
            UNION ALL
            SELECT neighbour_id, 0::float8, contribution, neighbour_cluster, neighbour_log_pop
            FROM following"""
_NEXT_TERM = ":w_sequence * (c.next / coalesce(nullif(max(c.next) OVER (), 0), 1))"
# A liked movie's profile weight, once per liked movie rather than per expanded row (8% of the
# statement at 25M ratings: an array subscript for each of ~7,000 rows).
_PROFILE_WEIGHT = f"({_float8_array(RECENCY)})[least(r.recency, {len(RECENCY) - 1}) + 1]"


def _candidates(table: str, score: str, next_movie: bool, rated: str) -> str:
    """_CANDIDATES for a table and a source of the profile (RATED_FROM); with the next-movie
    component and recency weights (the default ranking) or without either (the co-rating
    table's)."""
    return _CANDIDATES.format(
        table=table,
        score=score,
        liked=_LIKED,
        skip=SKIP_CTE,
        rated=rated,
        profile_weight=_PROFILE_WEIGHT if next_movie else "1::float8",
        weighted="l.weight * " if next_movie else "",
        following=_FOLLOWING if next_movie else "",
        contributions=_CONTRIBUTIONS + (_NEXT_CONTRIBUTIONS if next_movie else ""),
        next_term=_NEXT_TERM if next_movie else "0::float8",
        plus_next="+ t.next " if next_movie else "",
    )


# The page, then movies for it only; with a genre, every candidate's genres are needed first.
# Skipped movies leave after the ranking (the rest keep their scores and order): the top
# offset + n + (skip list's size) are cut first, then the skipped ones removed, then the page.
_PAGE = {
    False: f"""
    , page AS (
        SELECT s.*, m.title, m.genres
        FROM (SELECT * FROM (SELECT * FROM scored ORDER BY score DESC, movie_id
                             LIMIT :offset + :n + {SKIP_COUNT}) top
              WHERE NOT {skipped("top.movie_id")}
              ORDER BY score DESC, movie_id LIMIT :n OFFSET :offset) s
        JOIN movies m ON m.movie_id = s.movie_id
    )""",
    True: f"""
    , page AS (
        SELECT s.*, m.title, m.genres
        FROM scored s
        JOIN movies m ON m.movie_id = s.movie_id
        WHERE CAST(:genre AS text) = ANY (m.genres) AND {allowed("m")}
        ORDER BY s.score DESC, s.movie_id
        LIMIT :n OFFSET :offset
    )""",
}
_SOURCES_AND_TITLES = """
    , sources AS (  -- the liked (or just rated) movie each page item owes most to
        SELECT DISTINCT ON (e.neighbour_id) e.neighbour_id, e.source_id
        FROM expanded e
        JOIN page p ON p.movie_id = e.neighbour_id AND NOT p.just_rated
        ORDER BY e.neighbour_id, e.similarity DESC, e.source_id
    ){next_sources}
    SELECT p.movie_id, p.title, p.genres, p.cluster, p.score, p.share, sm.title AS source_title,
           p.just_rated
    FROM page p
    LEFT JOIN {sources} so ON so.neighbour_id = p.movie_id
    LEFT JOIN movies sm ON sm.movie_id = so.source_id
    ORDER BY p.score DESC, p.movie_id
"""
_COUNT = f"""
    SELECT count(*) FROM scored s JOIN movies m ON m.movie_id = s.movie_id
    WHERE (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres)) AND {allowed("m")}
"""

_NEXT_SOURCES = """
    , next_sources AS (
        SELECT DISTINCT ON (f.neighbour_id) f.neighbour_id, f.source_id
        FROM following f
        JOIN page p ON p.movie_id = f.neighbour_id AND p.just_rated
        ORDER BY f.neighbour_id, f.similarity DESC, f.source_id
    ), all_sources AS (SELECT * FROM sources UNION ALL SELECT * FROM next_sources)
"""

# After the candidates: the most rated movies the user has not rated and that are not candidates
# (nor skipped). Read in order from ix_movie_features_popularity, the exclusions as hashed
# subplans (a join would lose the index's order), so a page reads about its own rows; movies
# and clusters are joined for the page only (a genre probes movies per row read).
_POPULAR_REST = f"""
    SELECT m.movie_id, m.title, m.genres, mc.cluster, f.rating_count
    FROM (
        SELECT f.movie_id, f.rating_count
        FROM movie_features f
        WHERE f.movie_id NOT IN (SELECT r.movie_id FROM rated r)
          AND f.movie_id NOT IN (SELECT c.movie_id FROM candidates c)
          AND NOT {skipped("f.movie_id")}
          AND (CAST(:genre AS text) IS NULL
               OR EXISTS (SELECT 1 FROM movies g
                          WHERE g.movie_id = f.movie_id AND CAST(:genre AS text) = ANY (g.genres)))
        ORDER BY f.rating_count DESC, f.movie_id
        LIMIT :n OFFSET :offset
    ) f
    JOIN movies m ON m.movie_id = f.movie_id
    LEFT JOIN movie_clusters mc ON mc.version = :version AND mc.movie_id = f.movie_id
    ORDER BY f.rating_count DESC, f.movie_id
"""

# The liked movies of the live ranking's profile (its `liked` CTE, so both read one definition),
# most recent first, with the star rating: what the dashboard shows as "movies you liked".
_PROFILE = """
    SELECT m.movie_id, m.title, m.genres, l.rating, l.ts
    FROM liked l
    JOIN movies m ON m.movie_id = l.movie_id
    ORDER BY l.ts DESC, l.movie_id DESC
"""


_SIMILAR = """
    SELECT n.neighbour_id AS movie_id, m.title, m.genres, n.neighbour_cluster AS cluster,
           n.{score} AS similarity, n.co_likes, n.rank
    FROM {table} n
    JOIN movies m ON m.movie_id = n.neighbour_id
    WHERE n.version = :version AND n.movie_id = :movie_id AND n.{score} > 0
      AND (CAST(:genre AS text) IS NULL OR CAST(:genre AS text) = ANY (m.genres)) AND {allowed}
    ORDER BY n.rank
    LIMIT :n OFFSET :offset
"""
# /recommend/movie's hot path: the co-rating list, continued with the nearest in-cluster
# neighbours not already listed (what `similar` does in three queries), in one statement. Many
# movies have short co-rating lists (few people liked them: most of ml-latest-small), so both
# parts are read, each cut to the page's end before anything is joined; movies and clusters
# are joined for the page's n rows only. With a genre filter every listed movie's genres are
# needed before the cut, so that variant joins first. Skipped movies leave both parts before
# their cut.
_SIMILAR_THEN_NEAREST = {
    False: """
    WITH v AS MATERIALIZED {active}, {skip}, co AS MATERIALIZED (
        SELECT n.neighbour_id AS movie_id, n.neighbour_cluster AS cluster, n.{score} AS similarity,
               n.co_likes, NULL::real AS distance, 0 AS part, n.rank
        FROM {table} n
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id AND n.{score} > 0
          AND NOT {skipped}
        ORDER BY n.rank
        LIMIT :offset + :n
    ), near AS (
        SELECT n.neighbour_id, NULL::int, NULL::real, NULL::int, n.distance, 1, n.rank
        FROM movie_neighbours n
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id
          AND n.neighbour_id <> :movie_id AND NOT {skipped}
          AND NOT EXISTS (SELECT 1 FROM co WHERE co.movie_id = n.neighbour_id)
        ORDER BY n.rank
        LIMIT :offset + :n
    ), page AS (
        SELECT * FROM co UNION ALL SELECT * FROM near
        ORDER BY part, rank
        LIMIT :n OFFSET :offset
    )
    SELECT p.movie_id, coalesce(p.cluster, mc.cluster) AS cluster, p.similarity, p.co_likes,
           p.distance, p.part, p.rank, m.title, m.genres
    FROM page p
    JOIN movies m ON m.movie_id = p.movie_id
    LEFT JOIN movie_clusters mc
        ON p.part = 1 AND mc.version = (SELECT version FROM v) AND mc.movie_id = p.movie_id
    ORDER BY p.part, p.rank
    """,
    True: """
    WITH v AS MATERIALIZED {active}, co AS (
        SELECT n.neighbour_id AS movie_id, n.neighbour_cluster AS cluster, n.{score} AS similarity,
               n.co_likes, NULL::real AS distance, 0 AS part, n.rank
        FROM {table} n
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id AND n.{score} > 0
    ), near AS (
        SELECT n.neighbour_id, mc.cluster, NULL::real, NULL::int, n.distance, 1, n.rank
        FROM movie_neighbours n
        LEFT JOIN movie_clusters mc ON mc.version = n.version AND mc.movie_id = n.neighbour_id
        WHERE n.version = (SELECT version FROM v) AND n.movie_id = :movie_id
          AND n.neighbour_id <> :movie_id
          AND NOT EXISTS (SELECT 1 FROM co WHERE co.movie_id = n.neighbour_id)
    )
    SELECT x.*, m.title, m.genres
    FROM (SELECT * FROM co UNION ALL SELECT * FROM near) x
    JOIN movies m ON m.movie_id = x.movie_id
    WHERE CAST(:genre AS text) = ANY (m.genres) AND {allowed}
    ORDER BY x.part, x.rank
    LIMIT :n OFFSET :offset
    """,
}


def _compiled(sql: str, prepare: bool | None) -> Query:
    return no_skip_by_default(compile_sql(text(sql), prepare=prepare))


@dataclass(frozen=True)
class ItemTable:
    """A per-movie weight table and how its lists explain themselves."""

    table: str  # item_weights or item_neighbours
    score: str  # its weight column
    because: str  # a user item's reason starts with it, then the liked movie: "because you liked"
    movie_because: str  # a similar movie's reason, before "N of the same users"
    next_movie: bool = False  # recency-weighted profile + the next-movie component (the default)

    def reason(self, source: str | None, cluster: int | None, share: float, just_rated: bool = False) -> str:
        where = f"cluster {cluster}" if cluster is not None else "no cluster yet"
        because = (
            f"because you just rated {source}"
            if just_rated
            else f"{self.because} {source or 'movies you liked'}"
        )
        return f"{because}; {where} ({share:.0%} of your liked movies)"

    def movie_reason(self, row: Any) -> str:
        return f"{self.movie_because} {row.co_likes} of the same users; cluster {row.cluster}"


@dataclass(frozen=True)
class LiveStatements:
    """The live ranking over one source of the profile: the page, the candidates' count and the
    most rated movies after them."""

    ranked: dict[bool, Query]  # per "has a genre filter"
    count: Query
    popular_rest: Query

    @classmethod
    def of(cls, candidates: str, sources: str, prepare: bool | None) -> "LiveStatements":
        return cls(
            {g: _compiled(candidates + page + sources, prepare) for g, page in _PAGE.items()},
            _compiled(candidates + _COUNT, prepare),
            _compiled(candidates + _POPULAR_REST, prepare),
        )


class WeightedRanking:
    """The queries of one ItemTable, compiled once; the user and similar-movie lists from it."""

    def __init__(self, items: ItemTable) -> None:
        self.items = items
        candidates = {
            source: _candidates(items.table, items.score, items.next_movie, rated)
            for source, rated in RATED_FROM.items()
        }
        sources = _SOURCES_AND_TITLES.format(
            next_sources=_NEXT_SOURCES if items.next_movie else "",
            sources="all_sources" if items.next_movie else "sources",
        )
        # A user's statements are prepared (psycopg: from the 5th use on a connection), and
        # PostgreSQL then settles on its generic plan: one shape for any user (nested loops from
        # their few hundred ratings; the version's partition pruned at executor start), minus
        # the planning: p50 about 0.85x of planning each time for the default ranking at 25M,
        # equal rows for every user tried (docs/benchmarks.md, "Live ranking: planned vs
        # prepared"). A basket's are planned per request: its arrays' lengths are known only then.
        self.by_user = LiveStatements.of(candidates["user"], sources, prepare=None)
        self.by_basket = LiveStatements.of(candidates["basket"], sources, prepare=False)
        self.profile = _compiled(candidates["user"] + _PROFILE, prepare=None)
        names = {
            "table": items.table,
            "score": items.score,
            "active": _ACTIVE,
            "skip": SKIP_CTE,
            "skipped": skipped("n.neighbour_id"),
            "allowed": allowed("m"),
        }
        self.similar_rows = compile_sql(text(_SIMILAR.format(**names)))
        self.similar_then_nearest_rows = {
            g: compile_sql(text(sql.format(**names))) for g, sql in _SIMILAR_THEN_NEAREST.items()
        }

    def rows(self, rows: list[Any]) -> list[Recommendation]:
        """Ranked rows (movie_id, title, genres, cluster, score, share, source_title) as items."""
        why = self.items.reason
        return [
            Recommendation.from_row(
                r, score=r.score, reason=why(r.source_title, r.cluster, float(r.share), r.just_rated)
            )
            for r in rows
        ]

    def live(self, conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
        """The ranking computed in SQL now, from the ratings as they are (a UserStrategy that
        never reads the stored list)."""
        params = {**_ranking_params(request.version, request.genre, request.exclude), "user_id": user_id}
        return self._live(conn, self.by_user, params, n=request.n, offset=request.offset)

    def for_basket(
        self, conn: DbConnection, basket: dict[str, list[Any]], request: ListRequest
    ) -> list[Recommendation]:
        """The same ranking for a profile given with the request (session.Basket.params())."""
        params = {**_ranking_params(request.version, request.genre, request.exclude), **basket}
        return self._live(conn, self.by_basket, params, n=request.n, offset=request.offset)

    def _live(
        self, conn: DbConnection, statements: LiveStatements, params: dict[str, Any], *, n: int, offset: int
    ) -> list[Recommendation]:
        genre = params["genre"]
        page = {**params, "n": n, "offset": offset}
        result = self.rows(fetch_all(conn, statements.ranked[genre is not None], page))
        if len(result) == n:
            return result
        # the candidates ran out on this page: continue with the most rated movies
        total = int(fetch_value(conn, statements.count, params))
        rest = fetch_all(
            conn, statements.popular_rest, {**params, "n": n - len(result), "offset": max(0, offset - total)}
        )
        return result + [
            Recommendation.from_row(
                r, score=0.0, reason=f"popular: rated by {r.rating_count} users; cluster {r.cluster}"
            )
            for r in rest
        ]

    def liked_profile(self, conn: DbConnection, user_id: int, version: int) -> list[Any]:
        """Rows (movie_id, title, genres, rating, ts) of the movies the ranking takes as liked."""
        return fetch_all(conn, self.profile, {**_ranking_params(version, None, ()), "user_id": user_id})

    def table_rows(self, rows: list[Any]) -> list[Recommendation]:
        why = self.items.movie_reason
        return [Recommendation.from_row(r, score=r.similarity, reason=why(r)) for r in rows]

    def similar_then_nearest(self, rows: list[Any]) -> list[Recommendation]:
        """SIMILAR_THEN_NEAREST's rows as items: part 0 from the table, part 1 in-cluster neighbours."""
        return [self.table_rows([r])[0] if r.part == 0 else in_cluster.nearest(r) for r in rows]

    async def similar_page(
        self,
        conn: psycopg.AsyncConnection,
        movie_id: int,
        *,
        n: int,
        offset: int,
        genre: str | None,
        exclude: Sequence[int] = (),
    ) -> list[Recommendation] | None:
        """/recommend/movie's hot path in one statement: a page of the active version's table
        neighbours continued by the nearest in-cluster ones, or None (unknown movie, page past
        both lists, no model) -- then the route takes the full path."""
        page = {
            "movie_id": movie_id,
            "genre": genre,
            "n": n,
            "offset": offset,
            "exclude": exclude_param(exclude),
        }
        sql = self.similar_then_nearest_rows[genre is not None]
        rows = self.similar_then_nearest(await afetch_all(conn, sql, page))
        return rows if len(rows) == n else None

    def similar(
        self, conn: DbConnection, movie_id: int, cluster: int | None, request: ListRequest
    ) -> list[Recommendation]:
        """/recommend/movie from the table: the movies with the movie's largest positive weights.

        Past them (a movie added since the last run has none; a genre filter or a deep page runs
        out), the list continues with the in-cluster `neighbours` strategy."""
        n, offset = request.n, request.offset
        params = {
            "version": request.version,
            "movie_id": movie_id,
            "genre": request.genre,
            "exclude": exclude_param(request.exclude),
        }
        page = self.table_rows(fetch_all(conn, self.similar_rows, {**params, "n": n, "offset": offset}))
        if len(page) == n:  # the common case: n rows joined, not the whole list
            return page
        whole = {**params, "n": WHOLE_LIST, "offset": 0}
        everything = self.table_rows(fetch_all(conn, self.similar_rows, whole))
        # continue with the in-cluster list, skipping movies already listed above
        listed = {r.movie_id for r in everything}
        skip = max(0, offset - len(everything))
        fill = in_cluster.similar(
            conn, movie_id, cluster, replace(request, n=skip + n - len(page) + len(listed), offset=0)
        )
        fresh = [r for r in fill if r.movie_id not in listed]
        return page + fresh[skip : skip + n - len(page)]


class StoredRanking(WeightedRanking):
    """The default ranking: its lists are also stored by the recluster run (user_recommendations)."""

    def recommend(self, conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
        """The stored list while it is current and long enough for the page; else ranked now."""
        found = self.stored(conn, user_id, request)
        if found is not None:
            return found
        return self.fresh_or_live(conn, user_id, request)

    def fresh_or_live(self, conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation]:
        """The user's row ranked now while it can serve the page; else the live SQL ranking."""
        found = self.fresh(
            conn,
            user_id,
            version=request.version,
            n=request.n,
            offset=request.offset,
            genre=request.genre,
            exclude=request.exclude,
        )
        return found if found is not None else self.live(conn, user_id, request)

    def fresh(
        self,
        conn: DbConnection,
        user_id: int,
        *,
        version: int | None,
        n: int,
        offset: int,
        genre: str | None,
        exclude: Sequence[int] = (),
    ) -> list[Recommendation] | None:
        """The page of the user's row ranked now by the version's model (None: the active
        version), the row the refresh will store (service/recommenders/fresh.py), cut as a
        stored page is; None when it cannot serve the page (no model yet, no ratings, the
        list too short): then the live SQL does."""
        row = fresh_row(conn, user_id, version, _page_end(n, offset, genre, exclude))
        if row is None:
            return None
        page = _given_page(row, n, offset, genre, exclude)
        rows = self.rows(fetch_all(conn, GIVEN[genre is not None], page))
        return rows if len(rows) == n else None

    async def fresh_page(
        self,
        conn: psycopg.AsyncConnection,
        user_id: int,
        *,
        n: int,
        offset: int,
        genre: str | None,
        exclude: Sequence[int] = (),
    ) -> list[Recommendation] | None:
        """`fresh` for the async hot path, after the stored page could not serve: only while
        this process already holds the active version's model (loading it takes the full
        path's thread); None otherwise. The ranking (~1 ms of CPU at 25M ratings) runs on the
        event loop: the hop to the threadpool and a second connection cost about as much."""
        found = await afetch_all(conn, INPUT, input_params(user_id, None))
        model = loaded_model(conn.info, found[0] if found else None)
        if model is None:
            return None
        row = ranked_row(model, found[0], _page_end(n, offset, genre, exclude))
        if row is None:
            return None
        page = _given_page(row, n, offset, genre, exclude)
        rows = self.rows(await afetch_all(conn, GIVEN[genre is not None], page))
        return rows if len(rows) == n else None

    def stored(self, conn: DbConnection, user_id: int, request: ListRequest) -> list[Recommendation] | None:
        """The page of the stored list, or None when it cannot serve it (out of date, too short)."""
        page = {
            "user_id": user_id,
            "version": request.version,
            "genre": request.genre,
            "n": request.n,
            "offset": request.offset,
            "exclude": exclude_param(request.exclude),
        }
        rows = self.rows(fetch_all(conn, STORED[request.genre is not None], page))
        return rows if len(rows) == request.n else None

    async def stored_page(
        self,
        conn: psycopg.AsyncConnection,
        user_id: int,
        *,
        n: int,
        offset: int,
        genre: str | None,
        exclude: Sequence[int] = (),
    ) -> list[Recommendation] | None:
        """The hot path of /recommend/user in one statement: the page of the stored list for the
        active version, or None if it cannot serve it (unknown user, ratings changed since the
        run, page past the stored list (the skipped movies removed), no model) -- then the route
        takes the full path."""
        page = {
            "user_id": user_id,
            "genre": genre,
            "n": n,
            "offset": offset,
            "exclude": exclude_param(exclude),
        }
        rows = self.rows(await afetch_all(conn, STORED_ACTIVE[genre is not None], page))
        return rows if len(rows) == n else None


def _given_page(
    row: dict[str, Any], n: int, offset: int, genre: str | None, exclude: Sequence[int]
) -> dict[str, Any]:
    """GIVEN's parameters: a row ranked now and the page to cut from it."""
    return {**row, "genre": genre, "n": n, "offset": offset, "exclude": exclude_param(exclude)}


def _page_end(n: int, offset: int, genre: str | None, exclude: Sequence[int]) -> int | None:
    """How far into a list a page may reach, before the hidden movies (None: a genre filter
    may need all of it)."""
    return None if genre is not None else offset + n + len(exclude)


def _ranking_params(version: int, genre: str | None, exclude: Sequence[int]) -> dict[str, Any]:
    return {
        "version": version,
        "genre": genre,
        "exclude": exclude_param(exclude),
        "cap": PROFILE_CAP,
        "w_affinity": W_AFFINITY,
        "w_popularity": W_POPULARITY,
        "w_sequence": W_SEQUENCE,
    }
