"""The demo's record of what it loaded: same files and untouched tables mean "skip the load"."""

from pathlib import Path

from sqlalchemy import Engine, insert

from cinecluster.demo_state import data_fingerprint, is_loaded, loaded_state, record_load
from cinecluster.tables import movies


def test_fingerprint_follows_content_not_place(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "movies.csv").write_text("movieId,title,genres\n1,X (1999),Drama\n")
        (tmp_path / folder / "notes.txt").write_text(folder)  # not a data file: ignored
    assert data_fingerprint(tmp_path / "a") == data_fingerprint(tmp_path / "b")
    (tmp_path / "b" / "movies.csv").write_text("movieId,title,genres\n1,X (1999),Comedy\n")
    assert data_fingerprint(tmp_path / "a") != data_fingerprint(tmp_path / "b")


def test_record_survives_commit_and_detects_changes(engine: Engine) -> None:
    with engine.connect() as conn:
        assert loaded_state(conn) is None
        assert not is_loaded(conn, "abc")
    with engine.begin() as conn:
        conn.execute(insert(movies).values(movie_id=1, title="X (1999)", genres=["Drama"]))
        record_load(conn, "abc", "/data/it's here")
    with engine.connect() as conn:
        assert loaded_state(conn) == {
            "mark": "cinecluster-demo",
            "fingerprint": "abc",
            "source": "/data/it's here",
            "counts": {"movies": 1, "ratings": 0, "tags": 0},
        }
        assert is_loaded(conn, "abc")
        assert not is_loaded(conn, "other files")
    with engine.begin() as conn:  # someone changed the tables behind the demo's back
        conn.execute(insert(movies).values(movie_id=2, title="Y (2000)", genres=[]))
    with engine.connect() as conn:
        assert not is_loaded(conn, "abc")


def test_rolled_back_load_leaves_no_record(engine: Engine) -> None:
    with engine.connect() as conn:
        record_load(conn, "abc", "x")
        conn.rollback()
        assert loaded_state(conn) is None
