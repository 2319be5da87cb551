"""`/dashboard/clusters` and `/dashboard/clusters/{id}`: plots, genre heat map, a cluster's movies."""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from cinecluster.activation import active_version
from service.dashboard.errors import page_router
from service.dashboard.templating import render
from service.dependencies import pool_of, require_version
from service.errors import not_found
from service.queries.clusters import SORTS, ClusterSummary, cluster_movies, cluster_summaries
from service.schemas.common import ClusterPath

router = page_router("/dashboard/clusters")

ALL_GENRES = 1_000  # "top N genres" large enough for every genre of a cluster
PAGE_SIZE = 20  # as GET /clusters/{id}/movies
MOST_RATED = 5
HEATMAP_GENRES = 20


def heatmap(summaries: list[ClusterSummary]) -> tuple[list[str], list[tuple[int, list[float]]]]:
    """The most common genres overall and, per cluster, the share of its movies with each."""
    totals: dict[str, int] = {}
    for s in summaries:
        for genre, movies in s.top_genres:
            totals[genre] = totals.get(genre, 0) + movies
    genres = sorted(totals, key=lambda g: (-totals[g], g))[:HEATMAP_GENRES]
    rows = [
        (s.cluster, [dict(s.top_genres).get(g, 0) / s.size if s.size else 0.0 for g in genres])
        for s in summaries
    ]
    return genres, rows


@router.get("", response_class=HTMLResponse)
def clusters(request: Request) -> HTMLResponse:
    """Every cluster of the active model."""
    with pool_of(request).connection() as conn:
        version = require_version(active_version(conn))
        summaries = cluster_summaries(conn, version, top=ALL_GENRES)
    genres, rows = heatmap(summaries)
    return render(
        request,
        "clusters.html",
        section="clusters",
        version=version,
        clusters=summaries,
        total=sum(s.size for s in summaries),
        genres=genres,
        heat_rows=rows,
    )


@router.get("/{cluster}", response_class=HTMLResponse)
def cluster(
    request: Request,
    cluster: ClusterPath,
    sort: Annotated[str, Query(pattern="^(popularity|rating|title|distance)$")] = "popularity",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """One cluster: summary, genres, most-rated movies and a paged, sortable movie list."""
    assert sort in SORTS
    with pool_of(request).connection() as conn:
        version = require_version(active_version(conn))
        found = cluster_summaries(conn, version, cluster, top=ALL_GENRES)
        if not found:
            raise not_found("Cluster")
        total, movies = cluster_movies(
            conn, version, cluster, sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        most_rated = (
            movies[:MOST_RATED]
            if sort == "popularity" and page == 1
            else cluster_movies(conn, version, cluster, sort="popularity", limit=MOST_RATED, offset=0)[1]
        )
    return render(
        request,
        "cluster.html",
        section="clusters",
        version=version,
        summary=found[0],
        most_rated=most_rated,
        movies=movies,
        total=total,
        sort=sort,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        offset=(page - 1) * PAGE_SIZE,
    )
