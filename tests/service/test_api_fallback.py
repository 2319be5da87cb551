"""`/recommend/user/{id}?fallback=popular`: a user with no ratings gets the most rated movies
instead of a 404 (genre, exclude and paging applied); without the parameter, still a 404."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from service.recommenders import STRATEGIES

NOBODY = 999_999_999  # no ratings


def _most_rated(engine: Engine, genre: str | None = None) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT f.movie_id FROM movie_features f JOIN movies m USING (movie_id)"
                    " WHERE CAST(:g AS text) IS NULL OR CAST(:g AS text) = ANY (m.genres)"
                    " ORDER BY f.rating_count DESC, f.movie_id LIMIT 200"
                ),
                {"g": genre},
            ).scalars()
        )


def test_without_the_parameter_an_unknown_user_is_still_404(client: TestClient) -> None:
    response = client.get(f"/recommend/user/{NOBODY}")
    assert (response.status_code, response.json()["error"]) == (404, "User not found")


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_user_without_ratings_gets_the_most_rated_movies(
    client: TestClient, read_engine: Engine, strategy: str
) -> None:
    response = client.get(
        f"/recommend/user/{NOBODY}", params={"fallback": "popular", "n": 20, "strategy": strategy}
    )
    assert response.status_code == 200, response.text
    items = response.json()
    assert [i["movieId"] for i in items] == _most_rated(read_engine)[:20]
    assert all(i["reason"].startswith("popular: rated by ") for i in items)


def test_genre_exclude_and_paging_apply_to_the_popular_list(client: TestClient, read_engine: Engine) -> None:
    popular = _most_rated(read_engine, "Comedy")
    excluded = popular[1:4]
    rest = [m for m in popular if m not in excluded]
    for offset, n in ((0, 10), (15, 25)):
        params = {"fallback": "popular", "genre": "Comedy", "n": n, "offset": offset}
        items = client.get(
            f"/recommend/user/{NOBODY}", params={**params, "exclude": ",".join(map(str, excluded))}
        )
        assert [i["movieId"] for i in items.json()] == rest[offset : offset + n]
        assert all("Comedy" in i["genres"].split("|") for i in items.json())


def test_a_user_with_ratings_is_answered_as_without_the_parameter(client: TestClient) -> None:
    for strategy in ("ease", "cluster"):
        plain = client.get("/recommend/user/1", params={"n": 10, "strategy": strategy}).json()
        with_fallback = client.get(
            "/recommend/user/1", params={"n": 10, "strategy": strategy, "fallback": "popular"}
        ).json()
        assert with_fallback == plain


def test_an_unknown_fallback_is_a_422(client: TestClient) -> None:
    response = client.get(f"/recommend/user/{NOBODY}", params={"fallback": "random"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "fallback"]


def test_the_fallback_writes_nothing(client: TestClient, read_engine: Engine) -> None:
    count = "SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM user_recommendations)"
    with read_engine.connect() as conn:
        before = conn.execute(text(count)).one()
    assert client.get(f"/recommend/user/{NOBODY}", params={"fallback": "popular"}).status_code == 200
    with read_engine.connect() as conn:
        assert conn.execute(text(count)).one() == before
        assert not conn.execute(text("SELECT 1 FROM ratings WHERE user_id = :u"), {"u": NOBODY}).first()
