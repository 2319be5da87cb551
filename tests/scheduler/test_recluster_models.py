"""Stored models: joblib predicts the stored clusters, ONNX agrees, placement uses the centroids."""

import io

import joblib
import numpy as np
import onnxruntime as rt
import pytest
from recluster_factories import make_movie
from sqlalchemy import Engine, create_engine, select

from cinecluster.tables import model_versions, movie_clusters
from scheduler.features import features_for
from scheduler.placement import load_model, place_movie


@pytest.fixture
def clustered(clustered_db_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(clustered_db_url)
    yield engine
    engine.dispose()


def _stored(engine: Engine) -> tuple[np.ndarray, np.ndarray, np.ndarray, bytes, bytes]:
    """(movie ids, stored clusters, the training-time feature matrix, joblib bytes, onnx bytes)."""
    with engine.connect() as conn:
        model = load_model(conn)
        assert model is not None
        rows = conn.execute(
            select(movie_clusters.c.movie_id, movie_clusters.c.cluster)
            .where(movie_clusters.c.version == model.version)
            .order_by(movie_clusters.c.movie_id)
        ).all()
        ids = np.array([r.movie_id for r in rows])
        features = features_for(conn, model.spec, ids.tolist())
        blobs = conn.execute(select(model_versions.c.model_joblib, model_versions.c.model_onnx)).one()
    assert features.movie_ids.tolist() == ids.tolist()
    return ids, np.array([r.cluster for r in rows]), features.values, blobs[0], blobs[1]


def test_exported_joblib_predicts_the_stored_clusters_and_onnx_agrees(clustered: Engine) -> None:
    _, clusters, values, joblib_bytes, onnx_bytes = _stored(clustered)
    pipeline = joblib.load(io.BytesIO(joblib_bytes))
    np.testing.assert_array_equal(pipeline.predict(values), clusters)

    session = rt.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    labels = session.run(["label"], {session.get_inputs()[0].name: values})[0]
    np.testing.assert_array_equal(labels, clusters)


def test_placement_uses_the_same_centroids_as_the_pipeline(clustered: Engine) -> None:
    _, clusters, values, joblib_bytes, _ = _stored(clustered)
    with clustered.connect() as conn:
        model = load_model(conn)
    assert model is not None
    labels, distances = model.nearest(values)
    np.testing.assert_array_equal(labels, clusters)
    pipeline = joblib.load(io.BytesIO(joblib_bytes))
    np.testing.assert_allclose(model.centroids, pipeline.named_steps["kmeans"].cluster_centers_)
    np.testing.assert_allclose(distances, pipeline.transform(values).min(axis=1), rtol=1e-9)


def test_a_new_movie_is_placed_on_its_nearest_centroid_and_stored(clustered: Engine) -> None:
    with clustered.begin() as conn:
        make_movie(conn, 999_001, title="Brand New (2026)", genres=["Animation", "Children", "Comedy"])
        placed = place_movie(conn, 999_001)
    assert placed is not None
    with clustered.connect() as conn:
        model = load_model(conn)
        assert model is not None
        row = features_for(conn, model.spec, [999_001]).values
        stored = conn.execute(
            select(movie_clusters.c.cluster, movie_clusters.c.distance).where(
                movie_clusters.c.movie_id == 999_001
            )
        ).one()
        joblib_bytes = conn.execute(select(model_versions.c.model_joblib)).scalar_one()
    pipeline = joblib.load(io.BytesIO(joblib_bytes))
    assert placed.version == 1
    assert placed.cluster == int(pipeline.predict(row)[0]) == stored.cluster
    assert stored.distance == pytest.approx(placed.distance, rel=1e-6)


def test_placement_without_a_model_is_none(engine: Engine) -> None:
    with engine.begin() as conn:
        make_movie(conn, 1)
        assert place_movie(conn, 1) is None
