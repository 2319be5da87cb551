"""--mode replace / append, --strict and standardized ratings."""

import json

import pytest
from conftest import MOVIES, RATINGS, TAGS, query, write


@pytest.mark.real_sample
def test_replace_leaves_exactly_the_files_contents(load, loaded_db_url, tmp_path, counts) -> None:
    directory = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS, "tags.csv": TAGS})
    reports = load(loaded_db_url, directory)
    # links.csv was not given: its table keeps the rows of movies that remain
    assert counts(loaded_db_url) == {"movies": 3, "links": 3, "ratings": 3, "tags": 2}
    assert reports["movies"]["deleted"] == 9742 - 3
    assert query(loaded_db_url, "SELECT user_id, movie_id, rating FROM ratings ORDER BY 1, 2") == [
        (1, 1, 4.0),
        (1, 2, 3.5),
        (2, 3, 5.0),
    ]


def test_replace_twice_is_idempotent(load, loaded_db_url, sample_data, snapshot) -> None:
    before = snapshot(loaded_db_url)
    reports = load(loaded_db_url, sample_data)
    assert snapshot(loaded_db_url) == before
    assert (reports["movies"]["written"], reports["movies"]["deleted"]) == (0, 0)


def test_append_twice_changes_nothing(load, loaded_db_url, sample_data, snapshot) -> None:
    before = snapshot(loaded_db_url)
    reports = load(loaded_db_url, sample_data, mode="append")
    assert snapshot(loaded_db_url) == before
    assert {kind: report["written"] for kind, report in reports.items()} == {
        "movies": 0,
        "links": 0,
        "ratings": 0,
        "tags": 0,
    }


def test_append_upserts_keeping_the_latest_rating(load, db_url, tmp_path) -> None:
    load(db_url, write(tmp_path / "a", {"movies.csv": MOVIES, "ratings.csv": RATINGS}))
    newer = "userId,movieId,rating,timestamp\n1,1,2.0,964982704\n1,2,1.0,1\n3,3,4.5,1\n"
    reports = load(db_url, ratings=write(tmp_path / "b", {"r.csv": newer}) / "r.csv", mode="append")
    assert reports["ratings"]["written"] == 2  # (1, 1) newer, (3, 3) new; (1, 2) older: kept
    assert query(db_url, "SELECT user_id, movie_id, rating FROM ratings ORDER BY 1, 2") == [
        (1, 1, 2.0),
        (1, 2, 3.5),
        (2, 3, 5.0),
        (3, 3, 4.5),
    ]


def test_replace_of_movies_cascades_to_their_ratings(load, db_url, tmp_path, counts) -> None:
    load(db_url, write(tmp_path / "a", {"movies.csv": MOVIES, "ratings.csv": RATINGS}))
    load(db_url, movies=write(tmp_path / "b", {"m.csv": MOVIES.rsplit("\n", 2)[0] + "\n"}) / "m.csv")
    assert counts(db_url)["movies"] == 2
    assert query(db_url, "SELECT movie_id FROM ratings ORDER BY 1") == [(1,), (2,)]


def test_strict_rejection_loads_nothing(run_cli, loaded_db_url, tmp_path, snapshot) -> None:
    ratings = RATINGS + "1,3,4.2,964982705\n"  # off the star grid
    directory = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": ratings})
    before = snapshot(loaded_db_url)
    result = run_cli("load", str(directory), "--strict", "--json", env={"DATABASE_URL": loaded_db_url})
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: 1 rows rejected and --strict given: nothing loaded"
    summary = json.loads(result.stdout)
    assert (summary["committed"], summary["rejected"]) == (False, 1)
    assert snapshot(loaded_db_url) == before


def test_strict_without_rejections_loads(run_cli, db_url, tmp_path, counts) -> None:
    result = run_cli("load", str(write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS})), "--strict")
    assert result.exit_code == 0, result.stderr
    assert counts(db_url)["ratings"] == 3


def test_standardized_ratings_are_refused_whole(run_cli, loaded_db_url, tmp_path, snapshot) -> None:
    zscores = "userId,movieId,rating,timestamp\n1,1,0.512,1\n1,2,-1.204,2\n2,3,1.37,3\n2,1,-0.678,4\n"
    directory = write(tmp_path, {"ratings.csv": zscores})
    before = snapshot(loaded_db_url)
    result = run_cli("load", str(directory), env={"DATABASE_URL": loaded_db_url})
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert "standardized" in result.stderr and "star ratings" in result.stderr
    assert snapshot(loaded_db_url) == before


def test_bad_mode_is_a_one_line_error(run_cli, tmp_path) -> None:
    result = run_cli("load", str(write(tmp_path, {"movies.csv": MOVIES})), "--mode", "merge")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --mode must be replace or append, not 'merge'"


def test_duplicate_pair_alone_takes_the_full_path(load, db_url, tmp_path) -> None:
    # every value is valid: only the primary key build notices the duplicate (user, movie)
    ratings = RATINGS + "1,1,2.5,964982999\n"
    report = load(db_url, write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": ratings}))["ratings"]
    assert (report["loaded"], report["dropped"]) == (3, {"duplicate": 1})
    assert query(db_url, "SELECT rating FROM ratings WHERE user_id = 1 AND movie_id = 1") == [(2.5,)]


def test_unknown_movie_alone_takes_the_full_path(load, db_url, tmp_path) -> None:
    # every value is valid: only the foreign key build notices the unknown movie
    ratings = RATINGS + "3,42,4.0,964982999\n"
    report = load(db_url, write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": ratings}))["ratings"]
    assert (report["loaded"], report["rejected"]) == (3, {"unknown movie": {"count": 1, "lines": [5]}})
    assert query(db_url, "SELECT count(*) FROM ratings") == [(3,)]


def test_replace_rebuilds_the_ratings_keys_indexes_and_comments(load, db_url, tmp_path) -> None:
    schema = """
        SELECT conname, pg_get_constraintdef(oid), convalidated, obj_description(oid, 'pg_constraint')
        FROM pg_constraint WHERE conrelid = 'ratings'::regclass
        UNION ALL
        SELECT indexname, indexdef, true, obj_description(format('%I', indexname)::regclass, 'pg_class')
        FROM pg_indexes WHERE tablename = 'ratings'
        ORDER BY 1
    """
    before = query(db_url, schema)
    load(db_url, write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS}))
    assert query(db_url, schema) == before
    assert {row[0] for row in before} >= {"pk_ratings", "ix_ratings_movie_id", "fk_ratings_movie_id_movies"}
