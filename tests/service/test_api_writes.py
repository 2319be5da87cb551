"""Write endpoints: bearer auth, POST /movies, POST /ratings (all or nothing), admin recluster."""

import pytest
from api_helpers import TOKEN, api_client, auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from scheduler import runs
from scheduler.job import run_requested

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample

WRITES = [
    ("POST", "/movies", {"title": "Auth Probe (2024)", "genres": "Drama"}),
    ("POST", "/ratings", [{"userId": 100002, "movieId": 1, "rating": 4.0}]),
    ("POST", "/admin/recluster", None),
    ("GET", "/admin/runs", None),
]


def count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_writes_are_closed_when_no_token_is_configured(
    clustered_db_url: str, method: str, path: str, body: object
) -> None:
    with api_client(clustered_db_url, token=None) as client:
        for headers in ({}, auth(), auth("anything")):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403
            assert response.json()["error"] == "Writes are disabled"
    engine = create_engine(clustered_db_url)
    assert count(engine, "SELECT count(*) FROM movies") == 9742
    assert count(engine, "SELECT count(*) FROM recluster_runs WHERE trigger = 'api'") == 0
    engine.dispose()


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_missing_or_wrong_token_is_refused(
    writable: tuple[TestClient, Engine], method: str, path: str, body: object
) -> None:
    client, engine = writable
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert (
        client.request(method, path, json=body, headers={"Authorization": f"Basic {TOKEN}"}).status_code
        == 401
    )
    wrong = client.request(method, path, json=body, headers=auth(TOKEN + "x"))
    assert (wrong.status_code, wrong.json()["error"]) == (403, "Invalid token")
    assert count(engine, "SELECT count(*) FROM movies") == 9742
    assert count(engine, "SELECT count(*) FROM ratings WHERE user_id = 100002") == 0


def test_add_movie_places_it_and_makes_it_recommendable(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    response = client.post(
        "/movies", json={"title": "Galaxy Heist (2031)", "genres": "Action|Sci-Fi"}, headers=auth()
    )
    assert response.status_code == 201
    movie = response.json()
    assert movie["movieId"] == 193610  # max(movieId) + 1 in ml-latest-small
    assert movie["genres"] == "Action|Sci-Fi" and movie["year"] == 2031
    assert isinstance(movie["cluster"], int)
    placed = "SELECT cluster FROM current_movie_clusters WHERE movie_id = :m"
    assert count(engine, placed, m=movie["movieId"]) == movie["cluster"]
    assert client.get(f"/movie/{movie['movieId']}").json() == movie
    similar = client.get(f"/recommend/movie/{movie['movieId']}", params={"n": 5}).json()
    assert len(similar) == 5 and movie["movieId"] not in {s["movieId"] for s in similar}
    assert {s["cluster"] for s in similar} == {movie["cluster"]}
    listed = client.get(
        f"/clusters/{movie['cluster']}/movies", params={"sort": "movieId", "offset": 0, "limit": 100}
    )
    assert listed.status_code == 200


def test_add_movie_with_id_list_genres_and_conflict(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    body = {"movieId": 500000, "title": "Quiet Field", "genres": ["Drama", "Drama", "War"]}
    created = client.post("/movies", json=body, headers=auth()).json()
    assert (created["movieId"], created["genreList"], created["year"]) == (500000, ["Drama", "War"], None)
    conflict = client.post("/movies", json=body, headers=auth())
    assert (conflict.status_code, conflict.json()["error"]) == (409, "Movie already exists")
    assert count(engine, "SELECT count(*) FROM movies") == 9743


def test_add_movie_without_id_after_the_largest_id_is_409(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable  # found by the schema fuzz: max(movie_id) + 1 overflowed into a 500
    top = {"movieId": 2**31 - 1, "title": "Last Id", "genres": "Drama"}
    assert client.post("/movies", json=top, headers=auth()).status_code == 201
    response = client.post("/movies", json={"title": "One More", "genres": "Drama"}, headers=auth())
    assert response.status_code == 409 and "give movieId" in response.json()["error"]
    assert count(engine, "SELECT count(*) FROM movies") == 9743


@pytest.mark.parametrize(
    "body",
    [{"title": ""}, {"title": "   "}, {"genres": "Drama"}, {"title": "x", "movieId": 0}, {"title": "a\x00b"}],
)
def test_invalid_movie_is_422_and_changes_nothing(writable: tuple[TestClient, Engine], body: dict) -> None:
    client, engine = writable
    assert client.post("/movies", json=body, headers=auth()).status_code == 422
    assert count(engine, "SELECT count(*) FROM movies") == 9742


def test_ratings_are_upserted_and_count_at_once(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    user = 100000  # a new user
    assert client.get(f"/recommend/user/{user}").status_code == 404
    # the new user likes every movie of one cluster's first page
    cluster = client.get("/movie/1").json()["cluster"]
    page = client.get(f"/clusters/{cluster}/movies", params={"limit": 10}).json()["items"]
    batch = [{"userId": user, "movieId": m["movieId"], "rating": 5.0, "timestamp": 1700000000} for m in page]
    response = client.post("/ratings", json=batch, headers=auth())
    assert response.status_code == 201
    assert response.json() == {"received": 10, "inserted": 10, "updated": 0, "unchanged": 0}
    favourite = client.get(f"/users/{user}/favorite-cluster").json()
    assert favourite["favoriteCluster"] == cluster and favourite["clusters"][0]["ratingCount"] == 10
    recommended = client.get(f"/recommend/user/{user}", params={"n": 20, "strategy": "cluster"}).json()
    assert recommended and not {r["movieId"] for r in recommended} & {m["movieId"] for m in page}
    # a newer rating replaces, an older one does not
    again = [
        {"userId": user, "movieId": page[0]["movieId"], "rating": 1.5, "timestamp": 1800000000},
        {"userId": user, "movieId": page[1]["movieId"], "rating": 1.5, "timestamp": 1600000000},
    ]
    assert client.post("/ratings", json=again, headers=auth()).json() == {
        "received": 2,
        "inserted": 0,
        "updated": 1,
        "unchanged": 1,
    }
    stars = count(
        engine,
        "SELECT rating * 10 FROM ratings WHERE user_id = :u AND movie_id = :m",
        u=user,
        m=page[0]["movieId"],
    )
    assert stars == 15


def test_duplicates_in_a_batch_keep_the_latest(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    batch = [
        {"userId": 100001, "movieId": 1, "rating": 2.0, "timestamp": 1700000002},
        {"userId": 100001, "movieId": 1, "rating": 4.5, "timestamp": 1700000009},
        {"userId": 100001, "movieId": 1, "rating": 3.0, "timestamp": 1700000001},
    ]
    assert client.post("/ratings", json=batch, headers=auth()).json()["inserted"] == 1
    assert count(engine, "SELECT rating * 10 FROM ratings WHERE user_id = 100001") == 45


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"userId": 7, "movieId": 999999999, "rating": 4.0}, "Movie not found"),
        ({"userId": 7, "movieId": 1, "rating": 4.25}, "Invalid request"),
        ({"userId": 7, "movieId": 1, "rating": 5.5}, "Invalid request"),
        ({"userId": 7, "movieId": 1, "rating": 0.0}, "Invalid request"),
        ({"userId": "x", "movieId": 1, "rating": 4.0}, "Invalid request"),
        ({"userId": 7, "movieId": 1}, "Invalid request"),
    ],
)
def test_one_bad_rating_rejects_the_whole_batch(
    writable: tuple[TestClient, Engine], bad: dict, error: str
) -> None:
    client, engine = writable
    before = count(engine, "SELECT count(*) FROM ratings")
    batch = [{"userId": 7, "movieId": 2, "rating": 3.5}, bad]
    response = client.post("/ratings", json=batch, headers=auth())
    assert (response.status_code, response.json()["error"]) == (404 if "not found" in error else 422, error)
    assert count(engine, "SELECT count(*) FROM ratings") == before
    assert client.post("/ratings", json=[], headers=auth()).status_code == 422


def test_a_recluster_request_is_recorded_and_run_by_the_scheduler_side(
    writable: tuple[TestClient, Engine],
) -> None:
    client, engine = writable
    lease = runs.acquire(engine, "cli")  # someone else is running
    try:
        refused = client.post("/admin/recluster", headers=auth())
        assert refused.status_code == 409
        assert "already in progress" in refused.json()["error"]
    finally:
        lease.fail("test")
        lease.release()
    body = {"k": 6, "batchSize": 500, "easeLambda": 50, "easeMovies": 800, "easeK": 20}
    started = client.post("/admin/recluster", json=body, headers=auth())
    assert started.status_code == 202
    run_id = started.json()["runId"]
    assert started.json()["status"] == "requested"
    assert started.json()["options"]["k"] == 6 and started.json()["options"]["batch_size"] == 500
    assert "no scheduler is running" in started.json()["warning"]
    again = client.post("/admin/recluster", headers=auth())
    assert again.status_code == 409 and "already requested" in again.json()["error"]
    listed = client.get("/admin/runs", headers=auth()).json()
    assert (listed[0]["runId"], listed[0]["status"], listed[0]["startedAt"]) == (run_id, "requested", None)

    result = run_requested(engine)  # what the scheduler process does
    assert result is not None and result.run_id == run_id
    run = client.get(f"/admin/runs/{run_id}", headers=auth()).json()
    assert (run["status"], run["trigger"], run["version"], run["step"]) == ("succeeded", "api", 2, "prune")
    assert client.get("/models/active").json()["version"] == 2
    assert client.get("/models/active").json()["params"]["k"] == 6
    model = client.get("/models/active").json()["metrics"]["item_model"]
    assert (model["lambda"], model["movies"], model["k"]) == (50, 800, 20)
    assert count(engine, "SELECT max(rank) FROM item_weights WHERE version = 2") == 20
    assert client.get("/admin/runs/999999", headers=auth()).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"k": 1},
        {"k": "many"},
        {"batchSize": 0},
        {"scaler": "log"},
        {"seed": -1},
        {"lambda": 3},
        {"easeLambda": 0},
        {"easeMovies": 100_000},
        {"easeK": 0},
        [1, 2],
    ],
)
def test_bad_recluster_options_are_422_and_record_nothing(
    writable: tuple[TestClient, Engine], body: object
) -> None:
    client, engine = writable
    response = client.post("/admin/recluster", json=body, headers=auth())
    assert response.status_code == 422, response.text
    assert count(engine, "SELECT count(*) FROM recluster_runs WHERE trigger = 'api'") == 0
