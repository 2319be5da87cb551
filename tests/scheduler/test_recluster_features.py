"""Features are SQL aggregates: the team's definition, unrated movies at 0, genres one-hot."""

import numpy as np
import pytest
from recluster_factories import make_movie, make_rating
from sqlalchemy import Engine, select

from cinecluster.tables import movie_features
from scheduler.features import NO_GENRES, FeatureOptions, FeatureSpec, features_for, rebuild_features


@pytest.fixture
def tiny(engine: Engine) -> Engine:
    with engine.begin() as conn:
        make_movie(conn, 1, genres=["Comedy", "Action"], year=1995)
        make_movie(conn, 2, genres=["Drama"], year=None)
        make_movie(conn, 3, genres=[], year=2001)  # '(no genres listed)'
        make_rating(conn, 10, 1, 4.0)
        make_rating(conn, 11, 1, 3.0)
        make_rating(conn, 10, 3, 5.0)
    return engine


def test_team_features_with_zero_for_unrated_movies(tiny: Engine) -> None:
    with tiny.begin() as conn:
        matrix = rebuild_features(conn, FeatureOptions())
        stored = conn.execute(select(movie_features).order_by(movie_features.c.movie_id)).all()
    spec = matrix.spec
    assert spec.feature_names == ["avg_rating", "rating_count", NO_GENRES, "Action", "Comedy", "Drama"]
    assert matrix.movie_ids.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(
        matrix.values,
        [[3.5, 2, 0, 1, 1, 0], [0, 0, 0, 0, 0, 1], [5.0, 1, 1, 0, 0, 0]],
    )
    assert matrix.ratings == 3
    assert [(r.movie_id, r.avg_rating, r.rating_count, r.genre_flags) for r in stored] == [
        (1, 3.5, 2, [0, 1, 1, 0]),
        (2, 0.0, 0, [0, 0, 0, 1]),
        (3, 5.0, 1, [1, 0, 0, 0]),
    ]


def test_optional_extras_log_count_bayes_and_year(tiny: Engine) -> None:
    options = FeatureOptions(log_count=True, bayes_avg=True, year=True, prior_weight=2.0)
    with tiny.begin() as conn:
        matrix = rebuild_features(conn, options)
    names = matrix.spec.feature_names
    assert names[:4] == ["avg_rating", "log_count", "bayes_avg", "year"]
    prior = 12.0 / 3  # global mean rating
    movie2 = matrix.values[1]
    assert movie2[1] == 0.0  # ln(1 + 0)
    assert movie2[2] == pytest.approx(prior)  # no ratings: the prior
    assert movie2[3] == matrix.spec.year_fill == 1995  # median of the known years
    assert matrix.values[0][2] == pytest.approx((2 * prior + 7.0) / (2 + 2))
    assert matrix.values[0][1] == pytest.approx(np.log(3))


def test_features_for_new_movie_reuse_the_training_spec(tiny: Engine) -> None:
    with tiny.begin() as conn:
        trained = rebuild_features(conn, FeatureOptions(bayes_avg=True)).spec
        make_movie(conn, 4, genres=["Action", "Western"])  # Western: unknown to the model
        again = features_for(conn, FeatureSpec.from_json(trained.to_json()), [4, 1])
    assert again.movie_ids.tolist() == [1, 4]
    # bayes prior fixed at training time, genre columns as trained, Western ignored
    assert again.values[1].tolist() == [0.0, 0.0, trained.prior_mean, 0, 1, 0, 0]
