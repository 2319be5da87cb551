"""Scale + MiniBatchKMeans as one scikit-learn Pipeline, and its quality metrics.

The pipeline takes the raw feature matrix (columns = FeatureSpec.feature_names), so an
exported joblib file's `.predict(features)` works like the team's kmeans_model.pkl.
Only the numeric columns are scaled; the 0/1 genre flags pass through unchanged.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.compose import ColumnTransformer
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from scheduler.options import ReclusterOptions, Scaler

ScalerKind = Scaler
SCALERS: dict[str, type] = {"zscore": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
N_INIT = 3  # fixed (sklearn's "auto" may change between releases)
SILHOUETTE_SAMPLE = 5000


@dataclass(frozen=True)
class ClusterParams:
    """The run's clustering options (their defaults, bounds and help: scheduler/options.py)."""

    k: int
    batch_size: int
    seed: int
    scaler: ScalerKind

    @classmethod
    def of(cls, options: ReclusterOptions) -> "ClusterParams":
        return cls(k=options.k, batch_size=options.batch_size, seed=options.seed, scaler=options.scaler)


@dataclass
class FitResult:
    pipeline: Pipeline
    scaled: np.ndarray  # the matrix in the space the centroids live in
    labels: np.ndarray
    distances: np.ndarray  # Euclidean distance of each row to its centroid
    centroids: np.ndarray
    metrics: dict[str, Any]


def build_pipeline(params: ClusterParams, n_numeric: int) -> Pipeline:
    if params.scaler not in SCALERS:
        raise ValueError(f"unknown scaler {params.scaler!r}; choose from {', '.join(SCALERS)}")
    scale = ColumnTransformer(
        [("numeric", SCALERS[params.scaler](), list(range(n_numeric)))], remainder="passthrough"
    )
    kmeans = MiniBatchKMeans(
        n_clusters=params.k, batch_size=params.batch_size, random_state=params.seed, n_init=N_INIT
    )
    return Pipeline([("scale", scale), ("kmeans", kmeans)])


def fit(values: np.ndarray, n_numeric: int, params: ClusterParams) -> FitResult:
    """Fit on the raw matrix; numeric columns first (ColumnTransformer keeps that order)."""
    if len(values) < params.k:
        raise ValueError(f"cannot make {params.k} clusters from {len(values)} movies")
    pipeline = build_pipeline(params, n_numeric).fit(values)
    scaled = pipeline.named_steps["scale"].transform(values)
    kmeans: MiniBatchKMeans = pipeline.named_steps["kmeans"]
    labels = kmeans.predict(scaled)
    centroids = kmeans.cluster_centers_
    distances = np.linalg.norm(scaled - centroids[labels], axis=1)
    return FitResult(
        pipeline=pipeline,
        scaled=scaled,
        labels=labels,
        distances=distances,
        centroids=centroids,
        metrics=quality(scaled, labels, distances, params),
    )


def quality(scaled: np.ndarray, labels: np.ndarray, distances: np.ndarray, params: ClusterParams) -> dict:
    sizes = np.bincount(labels, minlength=params.k)
    metrics: dict[str, Any] = {
        "inertia": float(np.square(distances).sum()),
        "cluster_sizes": [int(s) for s in sizes],
        "silhouette": None,
        "davies_bouldin": None,
    }
    if np.count_nonzero(sizes) >= 2:
        sample = min(SILHOUETTE_SAMPLE, len(scaled))
        metrics["silhouette"] = float(
            silhouette_score(scaled, labels, sample_size=sample, random_state=params.seed)
        )
        metrics["silhouette_sample"] = sample
        metrics["davies_bouldin"] = float(davies_bouldin_score(scaled, labels))
    return metrics


def scaler_parameters(pipeline: Pipeline, kind: str, numeric_names: list[str]) -> dict[str, Any]:
    """Per-column affine map scaled = (raw - center) / scale of the numeric features.

    Read off the fitted transformer itself (transform of 0 and 1), so it is exact for all three
    scaler kinds, including sklearn's handling of constant columns.
    """
    n = len(numeric_names)
    scaler = pipeline.named_steps["scale"].named_transformers_["numeric"]
    at0 = scaler.transform(np.zeros((1, n)))[0]
    at1 = scaler.transform(np.ones((1, n)))[0]
    scale = 1.0 / (at1 - at0)
    center = -at0 * scale
    return {
        "kind": kind,
        "columns": numeric_names,
        "center": [float(c) for c in center],
        "scale": [float(s) for s in scale],
    }
