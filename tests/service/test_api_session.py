"""POST /recommend/session: a basket ranked by the very statement that ranks a user live, so a
user's ratings sent as a basket get that user's list; basket movies never come back; nothing is
written; bad baskets are a clear 4xx."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from service.recommenders import ListRequest, ease

SESSION = "/recommend/session"
COUNTS = """
    SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM user_recommendations),
           (SELECT count(*) FROM user_rating_changes), (SELECT count(*) FROM movies)
"""


def _ratings_of(engine: Engine, user_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT movie_id, rating, extract(epoch FROM ts)::bigint AS epoch FROM ratings"
                " WHERE user_id = :u ORDER BY movie_id"
            ),
            {"u": user_id},
        ).all()
    return [{"movieId": r.movie_id, "rating": r.rating, "timestamp": r.epoch} for r in rows]


def _users_under(engine: Engine, ratings: int, how_many: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT user_id FROM ratings GROUP BY user_id HAVING count(*) <= :r"
                    " ORDER BY count(*) DESC, user_id LIMIT :k"
                ),
                {"r": ratings, "k": how_many},
            ).scalars()
        )


def _post(client: TestClient, body: object, **params: object) -> list[dict]:
    response = client.post(SESSION, json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_users_ratings_as_a_basket_get_that_users_list(client: TestClient, read_engine: Engine) -> None:
    """The parity that keeps one ranking: the user's stored list (the numpy ranker's), the live
    SQL ranking and the session route agree, page by page, with a genre and with exclusions."""
    for user in [1, *_users_under(read_engine, 500, 3)]:
        basket = {"ratings": _ratings_of(read_engine, user)}
        for params in ({"n": 20}, {"n": 10, "offset": 15}, {"n": 10, "genre": "Comedy"}):
            expected = client.get(f"/recommend/user/{user}", params=params).json()
            assert _post(client, basket, **params) == expected, (user, params)
        top = [i["movieId"] for i in _post(client, basket, n=5)]
        excluded = {"exclude": ",".join(map(str, top[::2]))}
        expected = client.get(f"/recommend/user/{user}", params={"n": 10, **excluded}).json()
        assert _post(client, basket, n=10, **excluded) == expected


def test_the_session_ranking_is_the_live_statement(client: TestClient, read_engine: Engine) -> None:
    with read_engine.connect() as conn:
        version = conn.execute(text("SELECT version FROM active_model")).scalar_one()
        live = ease.RANKING.live(conn, 1, ListRequest(30, 0, None, version))
    items = _post(client, {"ratings": _ratings_of(read_engine, 1)}, n=30)
    assert [(i["movieId"], i["score"], i["reason"]) for i in items] == [
        (r.movie_id, r.score, r.reason) for r in live
    ]


@pytest.mark.real_sample  # ids of ml-latest-small's own users and movies
def test_a_bare_basket_is_all_liked_and_never_comes_back(client: TestClient, read_engine: Engine) -> None:
    basket = [260, 1196, 1210, 2571]  # Star Wars IV-VI, The Matrix
    items = _post(client, {"movieIds": basket}, n=50)
    assert len(items) == 50
    assert not {i["movieId"] for i in items} & set(basket)
    with read_engine.connect() as conn:
        titles = set(
            conn.execute(text("SELECT title FROM movies WHERE movie_id = ANY(:b)"), {"b": basket}).scalars()
        )
    assert any(title in items[0]["reason"] for title in titles), items[0]["reason"]
    as_ratings = [{"movieId": m, "rating": 4.0, "timestamp": i} for i, m in enumerate(basket)]
    assert _post(client, {"ratings": as_ratings}, n=50) == items
    # a movie given twice counts once, at its last place
    assert _post(client, {"movieIds": [2571, *basket]}, n=50) == items
    # ratings without times are now, in list order: the same as the bare list
    undated = [{"movieId": m, "rating": 4.0} for m in basket]
    assert _post(client, {"ratings": undated}, n=50) == items


@pytest.mark.real_sample  # ids of ml-latest-small's own users and movies
def test_the_order_of_a_bare_basket_counts(client: TestClient) -> None:
    """The newest (last) movies weigh most and their successors count: reversing the basket
    changes the list."""
    basket = [1, 2571, 318, 2959, 4993, 7153, 5952, 260, 1196, 1210, 296, 593]
    forward = _post(client, {"movieIds": basket}, n=20)
    backward = _post(client, {"movieIds": basket[::-1]}, n=20)
    assert [i["movieId"] for i in forward] != [i["movieId"] for i in backward]
    assert {i["movieId"] for i in forward + backward}.isdisjoint(basket)


def test_an_empty_basket_gets_the_most_rated_movies(client: TestClient) -> None:
    popular = client.get("/recommend/user/999999999", params={"fallback": "popular", "n": 10}).json()
    for body in ({"movieIds": []}, {"ratings": []}, {}):
        items = _post(client, body, n=10)
        assert items == popular
        assert all(i["reason"].startswith("popular: ") for i in items)
    assert (
        _post(client, {}, n=5, offset=3, genre="Drama", exclude="318")
        == client.get(
            "/recommend/user/999999999",
            params={"fallback": "popular", "n": 5, "offset": 3, "genre": "Drama", "exclude": "318"},
        ).json()
    )


@pytest.mark.real_sample  # ids of ml-latest-small's own users and movies
def test_paging_genre_and_exclude_apply(client: TestClient) -> None:
    body = {"movieIds": [1, 3114, 2355]}
    whole = _post(client, body, n=40, genre="Comedy")
    assert all("Comedy" in i["genres"].split("|") for i in whole)
    assert _post(client, body, n=10, offset=10, genre="Comedy") == whole[10:20]
    excluded = {whole[0]["movieId"], whole[3]["movieId"]}
    rest = [i for i in whole if i["movieId"] not in excluded]
    assert _post(client, body, n=20, genre="Comedy", exclude=",".join(map(str, excluded))) == rest[:20]


def test_an_unknown_movie_is_a_404_naming_it(client: TestClient, read_engine: Engine) -> None:
    with read_engine.connect() as conn:
        before = conn.execute(text(COUNTS)).one()
    for body in ({"movieIds": [1, 999999, 888888]}, {"ratings": [{"movieId": 999999, "rating": 4.0}]}):
        response = client.post(SESSION, json=body)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "Movie not found"
        assert 999999 in response.json()["detail"]["movieIds"]
    assert client.post(SESSION, json={"movieIds": [1, 999999, 888888]}).json()["detail"] == {
        "movieIds": [888888, 999999],
        "count": 2,
    }
    with read_engine.connect() as conn:
        assert conn.execute(text(COUNTS)).one() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"movieIds": list(range(1, 502))}, "at most 500 items"),
        ({"ratings": [{"movieId": 1, "rating": 4.0}] * 501}, "at most 500 items"),
        ({"movieIds": [1], "ratings": []}, "give movieIds or ratings, not both"),
        ({"movieIDs": [1]}, "Extra inputs are not permitted"),
        ({"movieIds": ["1"]}, "Input should be a valid integer"),
        ({"movieIds": [0]}, "greater than or equal to 1"),
        ({"ratings": [{"movieId": 1, "rating": 4.2}]}, "multiple of 0.5"),
        ({"ratings": [{"movieId": 1}]}, "Field required"),
        ([1, 2], "valid dictionary"),
    ],
)
def test_a_bad_basket_is_a_422_that_says_why_and_writes_nothing(
    client: TestClient, read_engine: Engine, body: object, message: str
) -> None:
    with read_engine.connect() as conn:
        before = conn.execute(text(COUNTS)).one()
    response = client.post(SESSION, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "Invalid request"
    assert message in str(response.json()["detail"])
    with read_engine.connect() as conn:
        assert conn.execute(text(COUNTS)).one() == before


def test_500_movies_are_accepted_and_nothing_is_written(client: TestClient, read_engine: Engine) -> None:
    with read_engine.connect() as conn:
        basket = list(conn.execute(text("SELECT movie_id FROM movies ORDER BY movie_id LIMIT 500")).scalars())
        before = conn.execute(text(COUNTS)).one()
    items = _post(client, {"movieIds": basket}, n=100)
    assert len(items) == 100 and not {i["movieId"] for i in items} & set(basket)
    with read_engine.connect() as conn:
        assert conn.execute(text(COUNTS)).one() == before


def test_query_parameters_are_checked_like_the_other_routes(client: TestClient) -> None:
    for params in ({"n": 0}, {"n": 101}, {"offset": -1}, {"exclude": "x"}):
        response = client.post(SESSION, json={"movieIds": [1]}, params=params)
        assert response.status_code == 422, params
    assert client.post(
        SESSION, content=b'{"movieIds": [1', headers={"Content-Type": "application/json"}
    ).status_code in (
        400,
        422,
    )
