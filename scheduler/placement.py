"""Place movies on the nearest centroid of a stored version, without unpickling anything.

Uses only model_versions.params/scaler and cluster_centroids: the same numbers the fitted
pipeline holds, so the result equals `pipeline.predict` (tests compare the two).

Both processes use it: the job places movies that arrived during a run, the API places a movie
it is given (POST /movies). So it stays light, numpy and SQL only: the API process never loads
scikit-learn (the import contracts in pyproject.toml check this module's imports too).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cinecluster.activation import active_version
from cinecluster.tables import cluster_centroids, model_versions, movie_clusters, movies
from scheduler.features import FeatureSpec, features_for


@dataclass(frozen=True)
class StoredModel:
    version: int
    spec: FeatureSpec
    center: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray

    def scale_rows(self, raw: np.ndarray) -> np.ndarray:
        scaled = np.array(raw, dtype=np.float64, copy=True)
        m = len(self.center)
        scaled[:, :m] = (scaled[:, :m] - self.center) / self.scale
        return scaled

    def nearest(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cluster, Euclidean distance) of each raw feature row."""
        scaled = self.scale_rows(np.atleast_2d(raw))
        dist = np.linalg.norm(scaled[:, None, :] - self.centroids[None, :, :], axis=2)
        labels = dist.argmin(axis=1)
        return labels, dist[np.arange(len(labels)), labels]


@dataclass(frozen=True)
class Placement:
    movie_id: int
    version: int
    cluster: int
    distance: float


def load_model(conn: Connection, version: int | None = None) -> StoredModel | None:
    """The stored model of `version` (default: the active one); None when there is none."""
    version = active_version(conn) if version is None else version
    if version is None:
        return None
    row = conn.execute(
        select(model_versions.c.params, model_versions.c.scaler).where(model_versions.c.version == version)
    ).first()
    if row is None:
        return None
    centroids = conn.execute(
        select(cluster_centroids.c.centroid)
        .where(cluster_centroids.c.version == version)
        .order_by(cluster_centroids.c.cluster)
    ).scalars()
    return StoredModel(
        version=version,
        spec=FeatureSpec.from_json(row.params["features"]),
        center=np.asarray(row.scaler["center"], dtype=np.float64),
        scale=np.asarray(row.scaler["scale"], dtype=np.float64),
        centroids=np.asarray(list(centroids), dtype=np.float64),
    )


def place_movies(
    conn: Connection, movie_ids: Sequence[int], model: StoredModel | None = None
) -> list[Placement]:
    """Assign movies (e.g. just inserted) in the active version and store it in movie_clusters."""
    model = model or load_model(conn)
    if model is None or not movie_ids:
        return []
    features = features_for(conn, model.spec, movie_ids)
    labels, distances = model.nearest(features.values)
    placements = [
        Placement(int(m), model.version, int(c), float(d))
        for m, c, d in zip(features.movie_ids, labels, distances, strict=True)
    ]
    if placements:
        stmt = pg_insert(movie_clusters).values(
            [
                {"version": p.version, "movie_id": p.movie_id, "cluster": p.cluster, "distance": p.distance}
                for p in placements
            ]
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[movie_clusters.c.version, movie_clusters.c.movie_id],
                set_={"cluster": stmt.excluded.cluster, "distance": stmt.excluded.distance},
            )
        )
    return placements


def place_movie(conn: Connection, movie_id: int) -> Placement | None:
    """For POST /movies: the new movie's cluster in the active version (None: no model yet)."""
    placed = place_movies(conn, [movie_id])
    return placed[0] if placed else None


def place_missing(conn: Connection, version: int) -> list[Placement]:
    """Movies that arrived while `version` was being fitted get placed before it goes live."""
    missing = select(movies.c.movie_id).where(
        ~select(movie_clusters.c.movie_id)
        .where(movie_clusters.c.version == version, movie_clusters.c.movie_id == movies.c.movie_id)
        .exists()
    )
    ids = list(conn.execute(missing).scalars())
    model = load_model(conn, version) if ids else None
    return place_movies(conn, ids, model) if model else []
