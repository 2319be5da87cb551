"""What a replace load takes off `ratings` for the bulk insert, and how it puts it back.

The keys and the movie_id index are rebuilt (test_load_modes checks their definitions); the
foreign key is validated last, through the movie_id index; the change-note trigger is dropped
for the load's own rows and created again exactly as it was.
"""

from conftest import MOVIES, RATINGS, query, write
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool

from loaders.files import read_header
from loaders.load import NOTE_INSERTS, load_files
from loaders.ratings import replace_plain_ratings

TRIGGER = f"""
    SELECT pg_get_triggerdef(oid), tgenabled, obj_description(oid, 'pg_trigger')
    FROM pg_trigger WHERE tgrelid = 'ratings'::regclass AND tgname = '{NOTE_INSERTS}'
"""


def test_foreign_key_is_validated_through_the_movie_id_index(db_url, tmp_path) -> None:
    files = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS})
    # one connection throughout: its own index-scan counts are flushed on demand, no waiting
    engine = create_engine(db_url, poolclass=StaticPool)
    try:
        load_files(engine, {"movies": files / "movies.csv"})
        load_files(engine, {"ratings": files / "ratings.csv"})
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_force_next_flush()"))
            conn.commit()
            scans = conn.execute(
                text("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'ix_ratings_movie_id'")
            ).scalar_one()
    finally:
        engine.dispose()
    # a new index: its only scan so far is the foreign key's validation (a heap scan before)
    assert scans == 1


def test_planner_settings_are_restored_after_the_validation(load, db_url, tmp_path) -> None:
    files = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS})
    load(db_url, files)
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            loaded = replace_plain_ratings(
                conn, read_header("ratings", files / "ratings.csv"), lambda _n: None
            )
            settings = conn.execute(
                text("SELECT current_setting('enable_seqscan'), current_setting('enable_hashjoin')")
            ).one()
    finally:
        engine.dispose()
    assert loaded == 3
    assert tuple(settings) == ("on", "on")


def test_replace_load_puts_the_note_trigger_back_as_it_was(load, db_url, tmp_path) -> None:
    files = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS})
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:  # not the defaults, so that a plain re-creation would differ
            conn.execute(text(f"COMMENT ON TRIGGER {NOTE_INSERTS} ON ratings IS 'it''s noted'"))
            conn.execute(text(f"ALTER TABLE ratings ENABLE ALWAYS TRIGGER {NOTE_INSERTS}"))
    finally:
        engine.dispose()
    before = query(db_url, TRIGGER)
    load(db_url, files)
    assert query(db_url, TRIGGER) == before == [(before[0][0], "A", "it's noted")]
    # the load's own rows are not noted as changes (the TRUNCATE retired every stored list)
    assert query(db_url, "SELECT count(*) FROM user_rating_changes") == [(0,)]
