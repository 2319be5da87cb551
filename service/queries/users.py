"""Users exist through their ratings; their taste is read per request from ratings + clusters."""

from dataclasses import dataclass

import psycopg
from sqlalchemy import bindparam, exists, select, text

from cinecluster.tables import active_model, ratings
from service.sql import DbConnection, compile_sql, fetch_all, fetch_one

LIKED = 4.0  # MovieLens convention: 4 stars and up is "liked"
# Liked ratings weigh most, middling ones some, disliked ones little (they still show taste).
WEIGHT_LIKED, WEIGHT_NEUTRAL, WEIGHT_DISLIKED = 1.0, 0.4, 0.1


@dataclass(frozen=True, slots=True)
class UserContext:
    user_id: int
    version: int | None


@dataclass(frozen=True, slots=True)
class ClusterAffinity:
    cluster: int
    rated: int
    liked: int
    affinity: float  # share of the user's rating weight, sums to 1 over clusters


GET_USER = compile_sql(
    select(
        exists().where(ratings.c.user_id == bindparam("user_id")).label("known"),
        select(active_model.c.version).scalar_subquery().label("version"),
    )
)

# A scalar subquery per rating: PostgreSQL probes movie_clusters' primary key once per rated
# movie. As a join, it hash-joined the whole version (62k rows, 13 ms at 5M ratings) to match a
# few dozen ratings.
AFFINITIES = compile_sql(
    text(
        """
    SELECT cluster, count(*) AS rated, count(*) FILTER (WHERE rating >= :liked) AS liked,
           sum(weight) / sum(sum(weight)) OVER () AS affinity
    FROM (
        SELECT r.rating,
               CASE WHEN r.rating >= :liked THEN :w_liked
                    WHEN r.rating >= 3.0 THEN :w_neutral
                    ELSE :w_disliked END AS weight,
               (SELECT mc.cluster FROM movie_clusters mc
                WHERE mc.version = :version AND mc.movie_id = r.movie_id) AS cluster
        FROM ratings r
        WHERE r.user_id = :user_id
    ) rated
    WHERE cluster IS NOT NULL
    GROUP BY cluster
    ORDER BY sum(weight) DESC, cluster
    """
    ).bindparams(liked=LIKED, w_liked=WEIGHT_LIKED, w_neutral=WEIGHT_NEUTRAL, w_disliked=WEIGHT_DISLIKED)
)


def get_user(conn: psycopg.Connection, user_id: int) -> UserContext | None:
    """The user (someone with at least one rating) and the active version, in one round trip."""
    row = fetch_one(conn, GET_USER, {"user_id": user_id})
    return UserContext(user_id, row.version) if row and row.known else None


def cluster_affinities(conn: DbConnection, user_id: int, version: int) -> list[ClusterAffinity]:
    """Per cluster of `version`: movies rated, liked, and affinity; highest affinity first."""
    rows = fetch_all(conn, AFFINITIES, {"user_id": user_id, "version": version})
    return [ClusterAffinity(r.cluster, r.rated, r.liked, float(r.affinity)) for r in rows]
