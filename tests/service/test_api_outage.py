"""Without a database the API answers 503 quickly and recovers by itself; without a model, 503."""

import time
from collections.abc import Iterator

import pytest
from api_helpers import api_client
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

HANG = 10.0  # far above the 2 s connect timeout: only a hang could take this long


@pytest.fixture
def proxied_url(clustered_db_url: str) -> Iterator[tuple[str, TcpProxy]]:
    url = make_url(clustered_db_url)
    if str(url.query.get("host", "")).startswith("/"):
        pytest.skip("the server is reached by a unix socket (embedded fallback); the outage proxy is TCP")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    proxy.cut()


def test_database_outage_is_503_fast_and_recovers(proxied_url: tuple[str, TcpProxy]) -> None:
    url, proxy = proxied_url
    with api_client(url) as client:
        assert client.get("/movie/1").status_code == 200
        assert client.get("/recommend/user/1").status_code == 200  # the pool now holds live connections
        proxy.cut()
        for path in ["/movie/1", "/recommend/user/1", "/recommend/movie/1", "/readyz", "/clusters", "/"]:
            started = time.monotonic()
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.json()["error"] == "Database unavailable"
            assert time.monotonic() - started < HANG
        assert client.get("/healthz").status_code == 200  # the process itself is fine
        assert client.get("/metrics").status_code == 200
        proxy.start()
        assert client.get("/movie/1").status_code == 200
        assert client.get("/readyz").json()["status"] == "ready"
        assert client.get("/recommend/user/1").status_code == 200


def test_service_starts_while_the_database_is_down(proxied_url: tuple[str, TcpProxy]) -> None:
    url, proxy = proxied_url
    proxy.cut()
    with api_client(url) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        proxy.start()
        assert client.get("/readyz").status_code == 200


@pytest.mark.real_sample
def test_without_an_active_model_readiness_and_model_routes_are_503(loaded_db_url: str) -> None:
    with api_client(loaded_db_url) as client:
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["error"]) == (503, "No active model")
        for path in ["/clusters", "/clusters/0", "/models/active", "/recommend/movie/1", "/recommend/user/1"]:
            assert client.get(path).status_code == 503, path
        assert client.get("/models").json() == []
        movie = client.get("/movie/1").json()
        assert movie["cluster"] is None and movie["title"] == "Toy Story (1995)"
        assert client.get("/").json()["modelVersion"] is None
