"""The session fixture others build on: one recluster run over ml-latest-small."""

from sqlalchemy import create_engine, text


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
