"""A malformed file: one line on stderr naming file and line, exit 2, every table unchanged."""

import pytest
from conftest import write

GOOD_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n"

MALFORMED: dict[str, tuple[bytes | None, str]] = {
    # case: (ratings.csv content, None = file absent; expected "line N: problem" fragment)
    "wrong header": (b"user,movie,stars,when\n1,1,4.0,1\n", "line 1: wrong header"),
    "missing header": (b"1,1,4.0,964982703\n1,2,3.5,964981247\n", "line 1: wrong header"),
    "empty file": (b"", "line 1: missing header"),
    "unterminated quote": (
        b'userId,movieId,rating,timestamp\n1,1,4.0,1\n1,"2,3.5,2\n3,1,4.0,3\n',
        "line 3: unterminated quoted field",
    ),
    "invalid utf-8": (
        b"userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2\xff\xfe,3.5,2\n",
        "line 3: invalid UTF-8",
    ),
    "truncated last line": (GOOD_RATINGS.encode()[:-12], "line 3: truncated last line"),
    "truncated inside a field": (GOOD_RATINGS.encode()[:-4], "line 3: truncated last line"),
    "extra column": (b"userId,movieId,rating,timestamp\n1,1,4.0,1,9\n", "line 2: extra data"),
    "missing file": (None, "file not found"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_ratings_change_nothing(case, run_cli, loaded_db_url, tmp_path, snapshot) -> None:
    content, expected = MALFORMED[case]
    # a movies file that would delete most of the catalogue, to show the rollback covers it too
    movies = write(tmp_path, {"movies.csv": "movieId,title,genres\n1,Toy Story (1995),Animation\n"})
    ratings = tmp_path / "ratings.csv"
    if content is not None:
        ratings.write_bytes(content)
    before = snapshot(loaded_db_url)

    result = run_cli(
        "load",
        "--movies",
        str(movies / "movies.csv"),
        "--ratings",
        str(ratings),
        env={"DATABASE_URL": loaded_db_url},
    )

    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {ratings}: ")
    assert expected in lines[0]
    assert snapshot(loaded_db_url) == before


def test_malformed_movies_file_names_its_line(run_cli, tmp_path) -> None:
    directory = write(tmp_path, {"movies.csv": 'movieId,title,genres\n1,"Toy Story (1995),Animation\n'})
    result = run_cli("load", str(directory))
    assert result.exit_code == 2
    path = directory / "movies.csv"
    assert result.stderr.strip() == (
        f'error: {path}: line 2: unterminated quoted field (a " opened here is never closed)'
    )


def test_directory_without_csv_files(run_cli, tmp_path) -> None:
    result = run_cli("load", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no input files in")
