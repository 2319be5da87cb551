"""Every cleaning rule of `cinecluster load`, on small hand-written files."""

import json

from conftest import MOVIES, query, write

MOVIES_DIRTY = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children
2,Jumanji (1995),Adventure|Children
2,Jumanji (1995),Adventure|Children
3,Nothing Listed (2001),(no genres listed)
4,Babylon 5,Drama|Sci-Fi
,Missing Id (1999),Drama
x5,Bad Id (1999),Drama
6,  Spaced Title (1980)  ,Comedy
7,Missing Genres (1990),
"""

RATINGS_DIRTY = """userId,movieId,rating,timestamp
1,1,4.0,100
1,1,3.5,200
1,2,5.0,100
1,2,5.0,100
2,1,5.5,100
2,2,3.3,100
2,99,4.0,100
a,1,4.0,100
3,1,,100
3,2,abc,100
3,3,0.5,100
2,3,0.0,100
"""

TAGS_DIRTY = """userId,movieId,tag,timestamp
1,1,funny,100
1,1, funny ,100
1,2,a|b| c ,100
1,3,  ,100
1,99,x,100
1,3,|,100
"""


def test_movies_rules(load, db_url, tmp_path) -> None:
    reports = load(db_url, write(tmp_path, {"movies.csv": MOVIES_DIRTY}))
    rows = query(db_url, "SELECT movie_id, title, year, genres FROM movies ORDER BY movie_id")
    assert rows == [
        (1, "Toy Story (1995)", 1995, ["Adventure", "Animation", "Children"]),
        (2, "Jumanji (1995)", 1995, ["Adventure", "Children"]),
        (3, "Nothing Listed (2001)", 2001, []),
        (4, "Babylon 5", None, ["Drama", "Sci-Fi"]),
        (6, "Spaced Title (1980)", 1980, ["Comedy"]),
    ]
    movies = reports["movies"]
    assert (movies["read"], movies["loaded"]) == (9, 5)
    assert movies["dropped"] == {"duplicate": 1, "missing field": 2}
    assert movies["rejected"] == {"non-numeric id": {"count": 1, "lines": [8]}}


def test_ratings_rules(load, db_url, tmp_path) -> None:
    directory = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS_DIRTY})
    ratings = load(db_url, directory)["ratings"]
    rows = query(
        db_url, "SELECT user_id, movie_id, rating, extract(epoch FROM ts)::int FROM ratings ORDER BY 1, 2"
    )
    # (1, 1) twice: the latest timestamp wins; (1, 2) is an exact duplicate
    assert rows == [(1, 1, 3.5, 200), (1, 2, 5.0, 100), (3, 3, 0.5, 100)]
    assert (ratings["read"], ratings["loaded"]) == (12, 3)
    assert ratings["dropped"] == {"duplicate": 2, "missing field": 1}
    assert ratings["rejected"] == {
        "non-numeric id": {"count": 1, "lines": [9]},
        "non-numeric rating": {"count": 1, "lines": [11]},
        "rating off the 0.5 grid": {"count": 1, "lines": [7]},
        "rating outside 0.5..5.0": {"count": 2, "lines": [6, 13]},
        "unknown movie": {"count": 1, "lines": [8]},
    }


def test_tags_rules(load, db_url, tmp_path) -> None:
    directory = write(tmp_path, {"movies.csv": MOVIES, "tags.csv": TAGS_DIRTY})
    tags = load(db_url, directory)["tags"]
    rows = query(db_url, "SELECT movie_id, user_id, tag FROM tags ORDER BY movie_id, tag")
    assert rows == [(1, 1, "funny"), (2, 1, "a"), (2, 1, "b"), (2, 1, "c")]
    assert (tags["read"], tags["loaded"]) == (6, 4)
    assert tags["dropped"] == {"duplicate": 1, "empty tag": 1, "missing field": 1}
    assert tags["rejected"] == {"unknown movie": {"count": 1, "lines": [6]}}


def test_example_lines_are_capped_at_five(load, db_url, tmp_path) -> None:
    bad = "".join(f"1,99,4.0,{n}\n" for n in range(8))
    directory = write(
        tmp_path, {"movies.csv": MOVIES, "ratings.csv": "userId,movieId,rating,timestamp\n" + bad}
    )
    ratings = load(db_url, directory)["ratings"]
    assert ratings["rejected"] == {"unknown movie": {"count": 8, "lines": [2, 3, 4, 5, 6]}}


def test_cleaned_file_names_and_two_column_tags(load, db_url, tmp_path) -> None:
    directory = write(
        tmp_path,
        {
            "cleaned_movies.csv": MOVIES,
            "cleaned_ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n",
            "cleaned_tags.csv": "movieId,tag\n1,pixar|toys\n3,heist\n",
        },
    )
    reports = load(db_url, directory)
    assert {kind: report["loaded"] for kind, report in reports.items()} == {
        "movies": 3,
        "ratings": 1,
        "tags": 3,
    }
    assert query(db_url, "SELECT movie_id, user_id, tag, ts FROM tags ORDER BY movie_id, tag") == [
        (1, None, "pixar", None),
        (1, None, "toys", None),
        (3, None, "heist", None),
    ]


def test_explicit_file_options(run_cli, db_url, tmp_path) -> None:
    write(tmp_path, {"m.csv": MOVIES, "r.csv": "userId,movieId,rating,timestamp\n1,2,2.5,1\n"})
    result = run_cli("load", "--movies", str(tmp_path / "m.csv"), "--ratings", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.stderr
    assert query(db_url, "SELECT user_id, movie_id, rating FROM ratings") == [(1, 2, 2.5)]


def test_json_summary_shape(run_cli, tmp_path) -> None:
    result = run_cli("load", str(write(tmp_path, {"movies.csv": MOVIES})), "--json")
    summary = json.loads(result.stdout)
    assert set(summary) == {"mode", "committed", "rejected", "files"}
    assert (summary["mode"], summary["committed"], summary["rejected"]) == ("replace", True, 0)
    assert set(summary["files"][0]) == {
        "kind",
        "path",
        "read",
        "loaded",
        "written",
        "deleted",
        "dropped",
        "rejected",
    }


def test_table_summary_names_each_file(run_cli, tmp_path) -> None:
    directory = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": RATINGS_DIRTY})
    result = run_cli("load", str(directory))
    assert result.exit_code == 0, result.stderr
    assert "movies.csv" in result.stdout and "ratings.csv" in result.stdout
    assert "unknown movie: 1 (8)" in result.stdout


def test_text_fallback_names_non_numeric_values(load, db_url, tmp_path) -> None:
    # "1e3" and "4,5"-style junk do not parse as typed columns: the file is staged as text
    ratings = (
        "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,four,2\n1,3,4.0,yesterday\n99999999999,1,4.0,3\n"
    )
    directory = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": ratings})
    report = load(db_url, directory)["ratings"]
    assert report["loaded"] == 1
    assert report["rejected"] == {
        "non-numeric id": {"count": 1, "lines": [5]},
        "non-numeric rating": {"count": 1, "lines": [3]},
        "non-numeric timestamp": {"count": 1, "lines": [4]},
    }


def test_tags_replace_rebuilds_the_keys_and_keeps_null_fields_distinct_once(load, db_url, tmp_path) -> None:
    """Replace mode inserts tags without their keys and builds them after: they are all back
    (a second identical row is refused, an unknown movie too), and rows that differ only by
    being NULL in the same field count once, as the natural key's NULLS NOT DISTINCT says."""
    no_user = "movieId,tag\n1,funny\n1,funny\n2,sad\n"  # no userId/timestamp columns: NULLs
    load(db_url, write(tmp_path, {"movies.csv": MOVIES, "tags.csv": no_user}))
    assert query(db_url, "SELECT movie_id, user_id, tag, ts FROM tags ORDER BY 1") == [
        (1, None, "funny", None),
        (2, None, "sad", None),
    ]
    keys = query(
        db_url,
        "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'tags'::regclass"
        " AND contype IN ('p', 'u', 'f') ORDER BY 1",
    )
    assert keys == [("fk_tags_movie_id_movies", True), ("pk_tags", True)]
    indexes = query(
        db_url,
        "SELECT c.relname, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'tags'::regclass ORDER BY 1",
    )
    assert indexes == [("ix_tags_movie_id", False), ("pk_tags", True), ("uq_tags_natural", True)]
