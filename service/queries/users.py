"""Users exist through their ratings; their taste is read per request from ratings + clusters."""

from dataclasses import dataclass

import psycopg
from sqlalchemy import bindparam, case, exists, func, select

from cinecluster.tables import active_model, movie_clusters, ratings
from service.sql import compile_sql, fetch_all, fetch_one

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

_weight = func.sum(
    case(
        (ratings.c.rating >= LIKED, WEIGHT_LIKED),
        (ratings.c.rating >= 3.0, WEIGHT_NEUTRAL),
        else_=WEIGHT_DISLIKED,
    )
)
AFFINITIES = compile_sql(
    select(
        movie_clusters.c.cluster,
        func.count().label("rated"),
        func.count().filter(ratings.c.rating >= LIKED).label("liked"),
        (_weight / func.sum(_weight).over()).label("affinity"),
    )
    .select_from(ratings)
    .join(
        movie_clusters,
        (movie_clusters.c.version == bindparam("version"))
        & (movie_clusters.c.movie_id == ratings.c.movie_id),
    )
    .where(ratings.c.user_id == bindparam("user_id"))
    .group_by(movie_clusters.c.cluster)
    .order_by(_weight.desc(), movie_clusters.c.cluster)
)


def get_user(conn: psycopg.Connection, user_id: int) -> UserContext | None:
    """The user (someone with at least one rating) and the active version, in one round trip."""
    row = fetch_one(conn, GET_USER, {"user_id": user_id})
    return UserContext(user_id, row.version) if row and row.known else None


def cluster_affinities(conn: psycopg.Connection, user_id: int, version: int) -> list[ClusterAffinity]:
    """Per cluster of `version`: movies rated, liked, and affinity; highest affinity first."""
    rows = fetch_all(conn, AFFINITIES, {"user_id": user_id, "version": version})
    return [ClusterAffinity(r.cluster, r.rated, r.liked, float(r.affinity)) for r in rows]
