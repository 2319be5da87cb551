"""The defaults chosen by the offline evaluation: ease for users and for similar movies; the
co-rating strategies (liked_neighbours, co_liked) stay selectable."""

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from api_helpers import auth, cluster_of, rated_by
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from ranking import SEQUENCE_RECENT
from ranking.users import Ranker, ratings_from, top_with_popular
from service.recommenders import DEFAULT_MOVIE_STRATEGY, DEFAULT_STRATEGY

USER = 1


def _table_list(engine: Engine, table: str, condition: str, movie_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT neighbour_id FROM {table} WHERE movie_id = :m AND {condition}"
                    " AND version = (SELECT version FROM active_model) ORDER BY rank"
                ),
                {"m": movie_id},
            ).scalars()
        )


def test_the_defaults_are_the_evaluated_winners() -> None:
    assert (DEFAULT_STRATEGY, DEFAULT_MOVIE_STRATEGY) == ("ease", "ease")


def test_similar_movies_follow_the_item_model_then_the_co_rating_table_on_request(
    client: TestClient, read_engine: Engine
) -> None:
    items = client.get("/recommend/movie/1", params={"n": 10}).json()
    expected = _table_list(read_engine, "item_weights", "weight > 0", 1)[:10]
    assert len(expected) == 10
    assert [i["movieId"] for i in items] == expected
    assert all("its fans go on to like it" in i["reason"] for i in items)
    assert all(f"cluster {i['cluster']}" in i["reason"] for i in items)
    co_liked = client.get("/recommend/movie/1", params={"n": 10, "strategy": "co_liked"}).json()
    assert [i["movieId"] for i in co_liked] == _table_list(read_engine, "item_neighbours", "true", 1)[:10]
    assert all("of the same users" in i["reason"] for i in co_liked)
    assert co_liked != items


@pytest.mark.parametrize(
    ("strategy", "wordings"),
    [
        ("ease", ("because you liked ", "because you just rated ")),
        ("liked_neighbours", ("liked by people who liked ",)),
    ],
)
def test_user_reason_names_the_cluster_and_a_liked_or_just_rated_movie(
    client: TestClient, read_engine: Engine, strategy: str, wordings: tuple[str, ...]
) -> None:
    items = client.get(f"/recommend/user/{USER}", params={"n": 20, "strategy": strategy}).json()
    with read_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.title, r.rating >= 4 AS liked,"
                " row_number() OVER (ORDER BY r.ts DESC, r.movie_id DESC) <= :recent AS recent"
                " FROM ratings r JOIN movies m USING (movie_id) WHERE r.user_id = :u"
            ),
            {"u": USER, "recent": SEQUENCE_RECENT},
        ).all()
    titles = {
        "because you just rated ": {r.title for r in rows if r.recent},
        **{wording: {r.title for r in rows if r.liked} for wording in wordings[:1]},
    }
    assert len(items) == 20
    seen = set()
    for item in items:
        assert f"cluster {item['cluster']}" in item["reason"]
        [wording] = [w for w in wordings if item["reason"].startswith(w)]
        seen.add(wording)
        source = item["reason"].removeprefix(wording).split("; cluster")[0]
        assert source in titles[wording], item["reason"]
    assert seen == set(wordings)  # the default's lists name both kinds of source
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    assert not {i["movieId"] for i in items} & rated_by(read_engine, USER)


def test_sql_ranking_matches_the_numpy_mirror_used_by_the_recluster_holdout(
    client: TestClient, read_engine: Engine
) -> None:
    """The job's holdout NDCG scores the same lists the API serves (same formula, same weights)."""
    with read_engine.connect() as conn:
        version = conn.execute(text("SELECT version FROM active_model")).scalar_one()
        ids = np.array(conn.execute(text("SELECT movie_id FROM movies ORDER BY movie_id")).scalars().all())
        rows = conn.execute(
            text("SELECT movie_id, neighbour_id, weight FROM item_weights WHERE version = :v"),
            {"v": version},
        ).all()
        following = conn.execute(
            text("SELECT movie_id, successor_id, weight FROM item_successors WHERE version = :v"),
            {"v": version},
        ).all()
        labels = np.array(
            conn.execute(
                text("SELECT cluster FROM movie_clusters WHERE version = :v ORDER BY movie_id"),
                {"v": version},
            )
            .scalars()
            .all()
        )
        counts = np.array(
            conn.execute(text("SELECT rating_count FROM movie_features ORDER BY movie_id")).scalars().all(),
            dtype=float,
        )
        log_pop = np.array(
            conn.execute(text("SELECT ln(1 + rating_count) FROM movie_features ORDER BY movie_id"))
            .scalars()
            .all()
        )
        mine = conn.execute(
            text(
                "SELECT movie_id, rating, (extract(epoch FROM ts) * 1000000)::int8 AS ts"
                " FROM ratings WHERE user_id = :u"
            ),
            {"u": USER},
        ).all()

    def matrix(rows: list[Any]) -> sp.csr_matrix:
        query, neighbour, weight = (np.array(c) for c in zip(*rows, strict=True))
        where = (np.searchsorted(ids, query), np.searchsorted(ids, neighbour))
        return sp.csr_matrix((weight.astype(float), where), shape=(len(ids), len(ids)))

    assert following  # the next-movie component is part of the ranking compared
    columns = {
        "user": np.full(len(mine), USER),
        "movie": np.array([r.movie_id for r in mine]),
        "half_stars": np.array([int(r.rating * 2) for r in mine]),
        "micros": np.array([r.ts for r in mine]),
    }
    ratings = ratings_from(columns, ids, "")
    ranker = Ranker(matrix(rows), labels, log_pop, successors=matrix(following), length=10)
    [ranked] = top_with_popular(ranker.rank(ratings)[0], ratings, counts, 10)
    served = client.get(f"/recommend/user/{USER}", params={"n": 10}).json()
    assert [i["movieId"] for i in served] == ids[ranked].tolist()


def test_a_new_movie_without_co_ratings_falls_back_to_its_cluster(writable) -> None:  # type: ignore[no-untyped-def]
    client, engine = writable
    created = client.post(
        "/movies", json={"title": "Brand New (2026)", "genres": "Comedy|Drama"}, headers=auth()
    )
    assert created.status_code in (200, 201), created.text
    movie_id = created.json()["movieId"]
    items = client.get(f"/recommend/movie/{movie_id}", params={"n": 5}).json()
    assert len(items) == 5
    assert movie_id not in {i["movieId"] for i in items}
    assert {i["cluster"] for i in items} == {cluster_of(engine, movie_id)}
