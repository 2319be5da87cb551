"""`exclude=` on /recommend/user and /recommend/movie: the ids leave the ranking before paging,
so a page stays full and the rest keep their order, scores and reasons; bad lists are a 422."""

import pytest
from fastapi.testclient import TestClient

from ranking import LIST_LENGTH
from service.recommenders import MOVIE_STRATEGIES, STRATEGIES

USER = 1
HEAVY_USER = 414


def _get(client: TestClient, path: str, **params: object) -> list[dict]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _without(items: list[dict], excluded: set[int]) -> list[dict]:
    return [i for i in items if i["movieId"] not in excluded]


def _exclude(ids: list[int]) -> str:
    return ",".join(map(str, ids))


@pytest.mark.real_sample  # ids of ml-latest-small's own users and movies
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("user", [USER, HEAVY_USER])
def test_excluded_movies_leave_a_users_list_and_the_page_stays_full(
    client: TestClient, strategy: str, user: int
) -> None:
    path = f"/recommend/user/{user}"
    whole = _get(client, path, n=60, strategy=strategy, seed=3)
    excluded = [whole[i]["movieId"] for i in (0, 2, 9, 14)]
    rest = _without(whole, set(excluded))
    for offset, n in ((0, 10), (5, 20), (30, 12)):
        page = _get(client, path, n=n, offset=offset, strategy=strategy, seed=3, exclude=_exclude(excluded))
        assert page == rest[offset : offset + n], (strategy, offset)


def test_the_stored_list_is_filtered_and_past_its_end_the_live_ranking_continues(client: TestClient) -> None:
    """User 1's first page comes from the stored list; excluding its first LIST_LENGTH movies
    leaves it nothing to serve, and the live ranking answers with the same order."""
    path = f"/recommend/user/{USER}"
    stored = _get(client, path, n=LIST_LENGTH)
    beyond = _get(client, path, n=20, offset=LIST_LENGTH)  # the live ranking past the stored list
    assert not {i["movieId"] for i in stored} & {i["movieId"] for i in beyond}
    excluded = [i["movieId"] for i in stored]
    assert _get(client, path, n=20, exclude=_exclude(excluded)) == beyond
    assert (
        _get(client, path, n=10, genre="Comedy", exclude=_exclude(excluded[:50]))
        == [i for i in _without(_get(client, path, n=100, genre="Comedy"), set(excluded[:50]))][:10]
    )


@pytest.mark.real_sample  # ids of ml-latest-small's own users and movies
@pytest.mark.parametrize("strategy", sorted(MOVIE_STRATEGIES))
@pytest.mark.parametrize("movie", [1, 2571])
def test_excluded_movies_leave_the_similar_movies_too(client: TestClient, strategy: str, movie: int) -> None:
    path = f"/recommend/movie/{movie}"
    whole = _get(client, path, n=100, strategy=strategy, seed=5)
    excluded = [whole[i]["movieId"] for i in (0, 1, 7, 40, 60)]
    rest = _without(whole, set(excluded))
    for offset, n in ((0, 10), (3, 7), (80, 15)):  # the last one reaches past the item lists
        page = _get(client, path, n=n, offset=offset, strategy=strategy, seed=5, exclude=_exclude(excluded))
        assert page == rest[offset : offset + n], (strategy, offset)


def test_ids_that_are_not_listed_change_nothing(client: TestClient) -> None:
    for path in (f"/recommend/user/{USER}", "/recommend/movie/1"):
        assert _get(client, path, n=10, exclude="999999,1") == _get(client, path, n=10)
        assert _get(client, path, n=10, exclude="") == _get(client, path, n=10)


@pytest.mark.parametrize(
    ("exclude", "message"),
    [
        ("1,a", "String should match pattern"),
        ("1,,2", "String should match pattern"),
        (" 1", "String should match pattern"),
        (_exclude(list(range(1, 502))), "at most 500 movie ids, got 501"),
        ("0", "movie ids are 1..2147483647"),
        ("2147483648", "movie ids are 1..2147483647"),
        ("9" * 5000, "movie ids are 1..2147483647"),
    ],
)
@pytest.mark.parametrize("path", [f"/recommend/user/{USER}", "/recommend/movie/1"])
def test_a_bad_exclude_list_is_a_422_that_says_why(
    client: TestClient, path: str, exclude: str, message: str
) -> None:
    response = client.get(path, params={"exclude": exclude})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "Invalid request"
    assert body["detail"][0]["loc"] == ["query", "exclude"]
    assert message in body["detail"][0]["msg"]


def test_500_ids_are_accepted(client: TestClient) -> None:
    whole = _get(client, f"/recommend/user/{USER}", n=10)
    excluded = [i["movieId"] for i in whole[:3]] + list(range(900_000, 900_497))
    assert _get(client, f"/recommend/user/{USER}", n=7, exclude=_exclude(excluded)) == whole[3:]
