"""The Alembic revisions own the schema: they match the metadata, comment everything, downgrade."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from cinecluster import migrate
from cinecluster.tables import metadata


def test_revisions_match_the_table_metadata(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_every_table_and_column_is_commented(engine: Engine) -> None:
    with engine.connect() as conn:
        uncommented = (
            conn.execute(
                text("""
            SELECT c.relname || coalesce('.' || a.attname, '')
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.relkind IN ('r', 'v') AND c.relname <> 'alembic_version'
              AND (CASE WHEN a.attname IS NULL THEN obj_description(c.oid, 'pg_class')
                        ELSE col_description(c.oid, a.attnum) END) IS NULL
        """)
            )
            .scalars()
            .all()
        )
        tables = conn.execute(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r' AND obj_description(c.oid) IS NOT NULL"
            )
        ).scalar_one()
    assert uncommented == []
    assert tables >= 4


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    migrate.downgrade(engine, "base")
    with engine.connect() as conn:
        left = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
    assert left == []
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM movies")).scalar_one() == 0
    assert migrate.current_revision(engine) is not None


def test_rating_constraint_rejects_off_grid_values(engine: Engine) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO movies (movie_id, title) VALUES (1, 'Toy Story (1995)')"))
    for bad in (0.0, 5.5, 3.3):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO ratings VALUES (1, 1, :r, now())"), {"r": bad})


@pytest.mark.real_sample  # asserts ml-latest-small's row counts
def test_0005_backfills_the_neighbour_columns_of_existing_versions(clustered_db_url: str) -> None:
    """A database clustered before 0005 keeps serving: its item_neighbours rows get the
    neighbour's cluster and ln(1 + ratings) from the version's own tables."""
    engine = create_engine(clustered_db_url)
    try:
        with engine.connect() as conn:
            written = conn.execute(
                text("SELECT count(*), sum(neighbour_cluster), sum(neighbour_log_pop) FROM item_neighbours")
            ).one()
        assert written[0] > 100_000
        migrate.downgrade(engine, "0004")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('user_recommendations')")).scalar() is None
        migrate.upgrade(engine)
        with engine.connect() as conn:
            backfilled = conn.execute(
                text("SELECT count(*), sum(neighbour_cluster), sum(neighbour_log_pop) FROM item_neighbours")
            ).one()
    finally:
        engine.dispose()
    assert backfilled[:2] == written[:2]
    assert backfilled[2] == pytest.approx(written[2], rel=1e-9)  # a float sum: order may differ
