"""Everything the report shows, read through the API's own query functions (one source of truth)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from cinecluster.activation import active_version
from service.queries.clusters import cluster_movies, cluster_summaries, feature_sample
from service.queries.models import list_models
from service.queries.movies import MovieRecord

TOP_MOVIES = 5
ALL_GENRES = 1_000  # "top N genres" large enough to return every genre of a cluster


@dataclass(frozen=True)
class ClusterPart:
    cluster: int
    size: int
    rating_count: int
    avg_rating: float | None  # mean of every rating of the cluster's movies
    genres: list[tuple[str, int]]  # (genre, movies having it), most common first
    top_movies: list[MovieRecord]  # most rated first

    def share(self, genre: str) -> float:
        return dict(self.genres).get(genre, 0) / self.size if self.size else 0.0


@dataclass(frozen=True)
class ReportData:
    model: dict[str, Any]  # as GET /models/active shows it
    clusters: list[ClusterPart]
    sample: list[tuple[int, float, int, list[int]]]  # feature sample for the PCA scatter
    generated_at: datetime

    @property
    def version(self) -> int:
        return int(self.model["version"])

    def genres_by_frequency(self) -> list[str]:
        totals: dict[str, int] = {}
        for part in self.clusters:
            for genre, movies in part.genres:
                totals[genre] = totals.get(genre, 0) + movies
        return sorted(totals, key=lambda genre: (-totals[genre], genre))


def read_report_data(conn: psycopg.Connection, generated_at: datetime) -> ReportData | None:
    """The active model's report data, or None when no model is active."""
    version = active_version(conn)
    if version is None:
        return None
    clusters = [
        ClusterPart(
            cluster=summary.cluster,
            size=summary.size,
            rating_count=summary.rating_count,
            avg_rating=summary.avg_rating,
            genres=summary.top_genres,
            top_movies=cluster_movies(
                conn,
                version,
                summary.cluster,
                sort="popularity",
                limit=TOP_MOVIES,
                offset=0,
            )[1],
        )
        for summary in cluster_summaries(conn, version, top=ALL_GENRES)
    ]
    (model,) = list_models(conn, version)
    sample = feature_sample(conn, version)
    return ReportData(model=model, clusters=clusters, sample=sample, generated_at=generated_at)
