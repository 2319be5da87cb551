"""Cluster analytics and plots of the active model."""

from enum import StrEnum
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query
from fastapi.responses import Response

from cinecluster.activation import active_version
from service.chart_process import CHARTS, ChartFailed
from service.dependencies import DbDep
from service.errors import ApiError, no_active_model, not_found
from service.queries import clusters as q
from service.queries.movies import movies_by_ids
from service.recommenders.ranking import RANKINGS
from service.routes.movies import movie_out
from service.schemas.clusters import ClusterList, ClusterMoviePage, ClusterOut, GenreShare, TopMovie
from service.schemas.common import ClusterPath, Limit, Offset, errors

router = APIRouter(prefix="/clusters", tags=["clusters"])

TOP = 5


class PlotKind(StrEnum):
    distribution = "distribution"
    scatter = "scatter"


class SortKey(StrEnum):
    popularity = "popularity"
    rating = "rating"
    title = "title"  # type: ignore[assignment]  # the API's value; hides str.title, never called on it
    distance = "distance"
    movieId = "movieId"


def _summaries(conn: psycopg.Connection, version: int, cluster: int | None) -> list[ClusterOut]:
    summaries = q.cluster_summaries(conn, version, cluster, top=TOP)
    rankings = RANKINGS.get(conn, version)
    top_ids = {
        s.cluster: rankings[s.cluster].ids[:TOP].tolist() if s.cluster in rankings else [] for s in summaries
    }
    found = movies_by_ids(conn, [i for ids in top_ids.values() for i in ids])
    return [
        ClusterOut(
            cluster=s.cluster,
            size=s.size,
            avgRating=round(s.avg_rating, 4) if s.avg_rating is not None else None,
            ratingCount=s.rating_count,
            topGenres=[GenreShare(genre=g, movies=n, share=round(n / s.size, 4)) for g, n in s.top_genres],
            topMovies=[
                TopMovie(
                    movieId=m.movie_id,
                    title=m.title,
                    avgRating=round(m.avg_rating, 4) if m.avg_rating is not None else None,
                    ratingCount=m.rating_count,
                )
                for m in (found[i] for i in top_ids[s.cluster] if i in found)
            ],
        )
        for s in summaries
    ]


def _version(conn: psycopg.Connection) -> int:
    version = active_version(conn)
    if version is None:
        raise no_active_model()
    return version


@router.get("", response_model=ClusterList, responses=errors(503))
def list_clusters(db: DbDep) -> ClusterList:
    """Every cluster: size, average rating, rating count, top 5 genres with shares, top movies."""
    with db.connection() as conn:
        version = _version(conn)
        return ClusterList(modelVersion=version, clusters=_summaries(conn, version, None))


@router.get(
    "/plot.png",
    response_class=Response,
    responses={
        # a schema, so that generated clients keep the route (they skip a content with none)
        200: {
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            "description": "A PNG chart.",
        },
        **errors(422, 503),
    },
)
def plot(
    db: DbDep,
    kind: Annotated[
        PlotKind, Query(description="`distribution`: bar chart of sizes; `scatter`: PCA 2-D.")
    ] = (PlotKind.distribution),
) -> Response:
    """A chart of the active model: cluster sizes, or movies in 2-D (PCA) coloured by cluster."""
    with db.connection() as conn:
        version = _version(conn)
        data: list[Any] = (
            q.cluster_sizes(conn, version)
            if kind is PlotKind.distribution
            else q.feature_sample(conn, version)
        )
    try:
        png = CHARTS.png(kind.value, version, data)
    except ChartFailed as failed:
        raise ApiError(503, "Chart unavailable", str(failed)) from None
    return Response(png, media_type="image/png")


@router.get("/{cluster}", response_model=ClusterOut, responses=errors(404, 422, 503))
def get_cluster(cluster: ClusterPath, db: DbDep) -> ClusterOut:
    """One cluster's summary."""
    with db.connection() as conn:
        found = _summaries(conn, _version(conn), cluster)
    if not found:
        raise not_found("Cluster")
    return found[0]


@router.get("/{cluster}/movies", response_model=ClusterMoviePage, responses=errors(404, 422, 503))
def cluster_movies(
    cluster: ClusterPath,
    db: DbDep,
    sort: Annotated[
        SortKey, Query(description="popularity, rating (desc); title, distance, movieId (asc).")
    ] = (SortKey.popularity),
    limit: Limit = 20,
    offset: Offset = 0,
) -> ClusterMoviePage:
    """A page of the cluster's movies, sorted; ties by movieId."""
    with db.connection() as conn:
        total, found = q.cluster_movies(
            conn, _version(conn), cluster, sort=sort.value, limit=limit, offset=offset
        )
    if total == 0:
        raise not_found("Cluster")
    return ClusterMoviePage(
        cluster=cluster,
        total=total,
        limit=limit,
        offset=offset,
        sort=sort.value,
        items=[movie_out(m) for m in found],
    )
