"""Cluster analytics, plots, models, health and metrics (read-only)."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.real_sample
def test_clusters_summarise_every_cluster(client: TestClient, read_engine: Engine) -> None:
    body = client.get("/clusters").json()
    assert body["modelVersion"] == 1
    clusters = body["clusters"]
    assert [c["cluster"] for c in clusters] == list(range(10))
    assert sum(c["size"] for c in clusters) == 9742
    assert sum(c["ratingCount"] for c in clusters) == 100836
    with read_engine.connect() as conn:
        sizes = dict(
            conn.execute(text("SELECT cluster, count(*) FROM current_movie_clusters GROUP BY 1")).all()
        )
    assert {c["cluster"]: c["size"] for c in clusters} == sizes
    for c in clusters:
        assert 1 <= len(c["topGenres"]) <= 5 and 1 <= len(c["topMovies"]) <= 5
        shares = [g["share"] for g in c["topGenres"]]
        assert shares == sorted(shares, reverse=True) and all(0 < s <= 1 for s in shares)
        assert all(abs(g["share"] - g["movies"] / c["size"]) < 1e-3 for g in c["topGenres"])


def test_one_cluster_matches_the_list(client: TestClient) -> None:
    listed = {c["cluster"]: c for c in client.get("/clusters").json()["clusters"]}
    assert client.get("/clusters/3").json() == listed[3]
    missing = client.get("/clusters/99")
    assert (missing.status_code, missing.json()["error"]) == (404, "Cluster not found")
    assert client.get("/clusters/-1").status_code == 422


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [("popularity", "ratingCount", True), ("title", "title", False), ("movieId", "movieId", False)],
)
def test_cluster_movies_are_sorted_and_paged(
    client: TestClient, sort: str, key: str, descending: bool
) -> None:
    size = client.get("/clusters/2").json()["size"]
    whole = client.get("/clusters/2/movies", params={"sort": sort, "limit": 40}).json()
    assert whole["total"] == size and whole["sort"] == sort
    values = [m[key] for m in whole["items"]]
    assert values == sorted(values, reverse=descending)
    assert all(m["cluster"] == 2 for m in whole["items"])
    first = client.get("/clusters/2/movies", params={"sort": sort, "limit": 20}).json()["items"]
    second = client.get("/clusters/2/movies", params={"sort": sort, "limit": 20, "offset": 20}).json()[
        "items"
    ]
    assert first + second == whole["items"]


def test_cluster_movies_errors(client: TestClient) -> None:
    assert client.get("/clusters/99/movies").status_code == 404
    assert client.get("/clusters/2/movies", params={"sort": "nope"}).status_code == 422
    assert client.get("/clusters/2/movies", params={"limit": 101}).status_code == 422


@pytest.mark.parametrize("kind", ["distribution", "scatter"])
def test_plots_are_png(client: TestClient, kind: str) -> None:
    response = client.get("/clusters/plot.png", params={"kind": kind})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG) and len(response.content) > 5000


def test_plot_kind_is_validated(client: TestClient) -> None:
    assert client.get("/clusters/plot.png", params={"kind": "pie"}).status_code == 422


def test_models_list_versions_without_model_bytes(client: TestClient) -> None:
    models = client.get("/models").json()
    assert [m["version"] for m in models] == [1]
    model = models[0]
    assert model["active"] is True and model["algorithm"] == "MiniBatchKMeans"
    assert model["params"]["k"] == 10 and model["joblibSize"] > 0 and model["onnxSize"] > 0
    assert not {"model_joblib", "model_onnx", "modelJoblib"} & set(model)
    assert client.get("/models/active").json() == model


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "modelVersion": 1}


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/movie/1")
    client.get("/movie/1")  # movie 1 exists in ml-latest-small and in the generated sample
    client.get("/movie/999999999")
    text_ = client.get("/metrics").text
    line = 'cinecluster_http_requests_total{method="GET",route="/movie/{movie_id}",status="200"}'
    count = next(float(x.split()[-1]) for x in text_.splitlines() if x.startswith(line))
    assert count >= 2
    assert 'route="/movie/{movie_id}",status="404"' in text_
    assert '/movie/1"' not in text_  # raw paths never become labels
    assert "cinecluster_active_model_version 1.0" in text_
    assert "cinecluster_http_request_duration_seconds_bucket" in text_
