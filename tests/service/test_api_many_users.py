"""POST /recommend/users: each user's list equals GET /recommend/user/{id}'s, for users served
from their stored list and for users ranked live; the stored ones come from one statement."""

from typing import Any

import psycopg
import pytest
from api_helpers import auth
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from cinecluster.db import libpq_url
from service.recommenders.batch import recommend_many
from service.recommenders.fresh import MODELS

USERS = "/recommend/users"


def _post(client: TestClient, user_ids: list[int], **params: object) -> dict:
    response = client.post(USERS, json={"userIds": user_ids}, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _single(client: TestClient, user: int, **params: object) -> list[dict]:
    return client.get(f"/recommend/user/{user}", params=params).json()


def _first_users(engine: Engine, how_many: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT DISTINCT user_id FROM ratings ORDER BY 1 LIMIT :k"), {"k": how_many}
            ).scalars()
        )


@pytest.mark.parametrize(
    "params", [{}, {"n": 20}, {"n": 10, "genre": "Comedy"}, {"n": 7, "exclude": "356,318,296,593,2571"}]
)
def test_each_list_equals_the_single_user_answer(
    client: TestClient, read_engine: Engine, params: dict[str, Any]
) -> None:
    users = _first_users(read_engine, 40)
    answer = _post(client, users, **params)
    assert list(answer["users"]) == [str(u) for u in users]
    assert answer["unknown"] == []
    for user in users:
        assert answer["users"][str(user)] == _single(client, user, **params), user


def test_users_ranked_live_get_their_live_lists(writable: tuple[TestClient, Engine]) -> None:
    client, engine = writable
    users = _first_users(engine, 12)
    rated = users[::3]  # these rate now: their stored lists stop being current
    for user in rated:
        top = _single(client, user, n=1)[0]["movieId"]
        posted = client.post(
            "/ratings", json=[{"userId": user, "movieId": top, "rating": 5.0}], headers=auth()
        )
        assert posted.status_code == 201
    answer = _post(client, users, n=10)
    for user in users:
        assert answer["users"][str(user)] == _single(client, user, n=10), user
    # with the whole stored list excluded the single answer is live, and so is the batch's
    whole = ",".join(str(i["movieId"]) for i in _single(client, users[1], n=100))
    deep = _post(client, users[:3], n=10, exclude=whole)
    assert deep["users"][str(users[1])] == _single(client, users[1], n=10, exclude=whole)


class _Counting(psycopg.Cursor):  # type: ignore[type-arg]
    statements = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        _Counting.statements += 1
        return super().execute(*args, **kwargs)


def test_stored_lists_take_two_statements_whatever_the_number_of_users(
    writable: tuple[TestClient, Engine],
) -> None:
    client, engine = writable
    users = _first_users(engine, 100)
    with psycopg.connect(
        libpq_url(engine.url.render_as_string(hide_password=False)), autocommit=True
    ) as conn:
        conn.cursor_factory = _Counting
        _Counting.statements = 0
        lists = recommend_many(conn, users, n=10, genre=None)
        assert (len(lists.users), lists.live, _Counting.statements) == (100, 0, 2)
        posted = client.post(
            "/ratings", json=[{"userId": users[5], "movieId": 1, "rating": 1.0}], headers=auth()
        )
        assert posted.status_code == 201
        MODELS.clear()
        _Counting.statements = 0
        lists = recommend_many(conn, users, n=10, genre=None)
        # + the one user's ranking: the version's model loaded (clusters, weights, successors),
        # the user's ratings, the page; once the model is held, the ratings and the page
        assert lists.live == 1 and _Counting.statements == 2 + 3 + 2
        _Counting.statements = 0
        lists = recommend_many(conn, users, n=10, genre=None)
        assert lists.live == 1 and _Counting.statements == 2 + 2


def test_unknown_users_are_listed_apart_in_request_order(client: TestClient) -> None:
    answer = _post(client, [999999, 1, 999998, 2, 1])
    assert answer["unknown"] == [999999, 999998]
    assert list(answer["users"]) == ["1", "2"]  # a repeated id is answered once
    assert _post(client, []) == {"users": {}, "unknown": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"userIds": list(range(1, 1002))}, "at most 1000 items"),
        ({"userIds": ["1"]}, "Input should be a valid integer"),
        ({"userIds": [0]}, "greater than or equal to 1"),
        ({"userIds": [2**31]}, "less than or equal to 2147483647"),
        ({}, "Field required"),
        ({"userIds": [1], "n": 5}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_body_is_a_422_that_says_why(client: TestClient, body: object, message: str) -> None:
    response = client.post(USERS, json=body)
    assert response.status_code == 422, response.text
    assert message in str(response.json()["detail"])


def test_1000_users_are_accepted_and_nothing_is_written(client: TestClient, read_engine: Engine) -> None:
    counts = "SELECT (SELECT count(*) FROM ratings), (SELECT count(*) FROM user_recommendations)"
    with read_engine.connect() as conn:
        before = conn.execute(text(counts)).one()
    answer = _post(client, list(range(1, 1001)), n=3)
    assert len(answer["users"]) + len(answer["unknown"]) == 1000
    assert all(len(items) == 3 for items in answer["users"].values())
    with read_engine.connect() as conn:
        assert conn.execute(text(counts)).one() == before
