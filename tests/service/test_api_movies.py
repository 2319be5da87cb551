"""`/`, `/movie/{id}`, `/movies`: the original shapes, lookups, search, paging, errors."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text


@pytest.mark.real_sample
def test_root_keeps_the_original_message_and_adds_versions_and_counts(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["message"] == "Recommender System API is running"
    assert body["modelVersion"] == 1
    assert body["counts"] == {"movies": 9742, "ratings": 100836, "tags": 3683}
    assert body["serviceVersion"]


@pytest.mark.real_sample
def test_movie_has_the_original_fields_and_the_extras(client: TestClient, read_engine: Engine) -> None:
    response = client.get("/movie/1")
    assert response.status_code == 200
    body = response.json()
    with read_engine.connect() as conn:
        cluster = conn.execute(text("SELECT cluster FROM current_movie_clusters WHERE movie_id = 1")).scalar()
        stats = conn.execute(text("SELECT avg(rating), count(*) FROM ratings WHERE movie_id = 1")).one()
    assert body["movieId"] == 1
    assert body["title"] == "Toy Story (1995)"
    assert body["genres"] == "Adventure|Animation|Children|Comedy|Fantasy"  # the original string
    assert body["cluster"] == cluster
    assert body["genreList"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert body["year"] == 1995
    assert body["ratingCount"] == stats[1] == 215
    assert abs(body["avgRating"] - float(stats[0])) < 1e-3


def test_movie_without_genres_shows_the_movielens_marker(client: TestClient, read_engine: Engine) -> None:
    with read_engine.connect() as conn:
        movie_id = conn.execute(text("SELECT min(movie_id) FROM movies WHERE genres = '{}'")).scalar_one()
    body = client.get(f"/movie/{movie_id}").json()
    assert body["genres"] == "(no genres listed)"
    assert body["genreList"] == []


def test_unknown_movie_is_404_with_the_original_message(client: TestClient) -> None:
    response = client.get("/movie/999999999")
    assert response.status_code == 404
    assert response.json() == {"error": "Movie not found", "detail": None}


def test_bad_movie_ids_are_422(client: TestClient) -> None:
    for bad in ["abc", "0", "-1", "1.5", str(2**31)]:
        response = client.get(f"/movie/{bad}")
        assert response.status_code == 422, bad
        assert response.json()["error"] == "Invalid request"


def test_unknown_path_is_404_json(client: TestClient) -> None:
    response = client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"


@pytest.mark.real_sample  # ml-latest-small's titles: the Matrix films
def test_search_by_title_is_case_insensitive_and_counts_all(client: TestClient, read_engine: Engine) -> None:
    body = client.get("/movies", params={"search": "MATRIX", "limit": 100}).json()
    with read_engine.connect() as conn:
        expected = set(
            conn.execute(text("SELECT movie_id FROM movies WHERE title ILIKE '%matrix%'")).scalars()
        )
    assert {m["movieId"] for m in body["items"]} == expected
    assert body["total"] == len(expected) > 0
    counts = [m["ratingCount"] for m in body["items"]]
    assert counts == sorted(counts, reverse=True)  # most rated first


def test_search_treats_wildcards_literally(client: TestClient) -> None:
    assert client.get("/movies", params={"search": "%%%"}).json()["total"] == 0
    underscore = client.get("/movies", params={"search": "_"}).json()
    assert all("_" in m["title"] for m in underscore["items"])


def test_search_filters_by_genre_and_cluster(client: TestClient) -> None:
    cluster = client.get("/movies", params={"genre": "Film-Noir"}).json()["items"][0]["cluster"]
    body = client.get("/movies", params={"genre": "Film-Noir", "cluster": cluster, "limit": 100}).json()
    assert body["items"]
    assert all("Film-Noir" in m["genreList"] and m["cluster"] == cluster for m in body["items"])
    everything = client.get("/movies", params={"genre": "Film-Noir", "limit": 100}).json()
    assert body["total"] < everything["total"]


def test_movies_paging_concatenates_and_ends_empty(client: TestClient) -> None:
    whole = client.get("/movies", params={"genre": "Western", "limit": 30}).json()
    first = client.get("/movies", params={"genre": "Western", "limit": 15}).json()
    second = client.get("/movies", params={"genre": "Western", "limit": 15, "offset": 15}).json()
    assert first["items"] + second["items"] == whole["items"]
    past = client.get("/movies", params={"genre": "Western", "offset": 100000}).json()
    assert past["items"] == [] and past["total"] == whole["total"]


def test_movies_limits_are_validated(client: TestClient) -> None:
    assert client.get("/movies", params={"limit": 0}).status_code == 422
    assert client.get("/movies", params={"limit": 101}).status_code == 422
    assert client.get("/movies", params={"offset": -1}).status_code == 422
    assert client.get("/movies", params={"search": "a\x00b"}).status_code == 422
