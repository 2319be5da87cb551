"""The session fixture others build on: one recluster run over ml-latest-small."""

import pytest
from sqlalchemy import create_engine, text

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample


def test_clustered_template_has_version_1_covering_every_movie(clustered_db_url: str) -> None:
    engine = create_engine(clustered_db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT model_version, count(*), count(DISTINCT cluster)"
                " FROM current_movie_clusters GROUP BY 1"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 9742, 10)]


def test_the_run_fits_the_item_model_behind_the_default_rankings(clustered_db_url: str) -> None:
    """EASE over the 3,000 most-liked movies, 200 weights each, both signs; every user's stored
    list comes from it; the holdout check scores it."""
    engine = create_engine(clustered_db_url)
    with engine.connect() as conn:
        metrics = conn.execute(text("SELECT metrics FROM model_versions WHERE version = 1")).scalar_one()
        movies, widest, negative, positive = conn.execute(
            text(
                "SELECT count(DISTINCT movie_id), max(rank), count(*) FILTER (WHERE weight < 0),"
                " count(*) FILTER (WHERE weight > 0) FROM item_weights WHERE version = 1"
            )
        ).one()
        users = conn.execute(text("SELECT count(*) FROM user_recommendations WHERE version = 1")).scalar_one()
    engine.dispose()
    model = metrics["item_model"]
    assert (model["model"], model["lambda"], model["dropout"], model["movies"], model["k"]) == (
        "dlae",
        200.0,
        0.2,
        3000,
        200,
    )
    assert 0.85 < model["liked_share"] < 0.95  # the 3,000 most-liked movies hold ~90% of the likes
    assert (movies, widest) == (3000, 200) and negative > 0 and positive > negative
    assert users == 610
    assert metrics["holdout"]["strategy"] == "ease" and metrics["holdout"]["ndcg_at_10"] > 0.1
    following = metrics["item_successors"]
    assert following["rows"] > 3000 and following["movies"] == 3000  # most covered movies have successors
