"""The plain-file fast path: ratings converted to binary COPY rows, straight into `ratings`.

It must load exactly what the general path loads, and hand every file it is not sure about
to the general path (which has the last word on reasons, line numbers and errors).
"""

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import MOVIES, RATINGS, query, write
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from loaders import binrows
from loaders.files import read_header
from loaders.ratings import BLOCK_SIZE, _read_ahead, replace_plain_ratings


def _plain(path: Path, db_url: str) -> tuple[int | None, int]:
    """replace_plain_ratings on `path` in a transaction of its own: (rows or None, net bytes)."""
    progress: list[int] = []
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            rows = replace_plain_ratings(conn, read_header("ratings", path), progress.append)
    finally:
        engine.dispose()
    return rows, sum(progress)


@pytest.mark.parametrize(
    "line",
    [
        b"1,1,4.0,964982703\r\n",  # CRLF
        b"1,1,4.25,964982703\n",  # off the grid
        b"1,1,4.50,964982703\n",  # on the grid, but not written D.D
        b"1,1,4,964982703\n",
        b"1,1,.5,964982703\n",
        b"1,1,0.0,964982703\n",  # out of range
        b"1,1,5.5,964982703\n",
        b"1,1,4.0,\n",  # missing field
        b",1,4.0,964982703\n",
        b"1,-1,4.0,964982703\n",  # a sign
        b"+1,1,4.0,964982703\n",
        b" 1,1,4.0,964982703\n",  # a space
        b'"1",1,4.0,964982703\n',  # a quote
        b"1,1,4.x,964982703\n",
        b"1,1,4.0,9649.82703\n",
        b"1234567890,1,4.0,964982703\n",  # longer than any id the general path accepts
        b"1,1,4.0,1234567890123\n",
        b"1,1,4.0\n",  # a field short
        b"1,1,4.0,964982703,x\n",  # a field too many
        b"1,1,4.0,964982703\n\n",  # an empty line
    ],
)
def test_encode_refuses_anything_not_plain(line: bytes) -> None:
    assert binrows.encode(b"1,1,4.0,964982703\n" + line) is None


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 999_999_999),
            st.integers(0, 999_999_999),
            st.integers(1, 10),
            st.integers(0, 999_999_999_999),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_encode_gives_the_values_of_each_line(rows: list[tuple[int, int, int, int]]) -> None:
    text = "".join(f"{user},{movie},{halves / 2:.1f},{ts}\n" for user, movie, halves, ts in rows)
    encoded = np.frombuffer(binrows.encode(text.encode()) or b"", binrows.ROW)
    assert encoded["user_id"].tolist() == [row[0] for row in rows]
    assert encoded["movie_id"].tolist() == [row[1] for row in rows]
    assert encoded["rating"].tolist() == [row[2] / 2 for row in rows]
    assert encoded["ts"].tolist() == [(row[3] - 946_684_800) * 1_000_000 for row in rows]
    assert set(encoded["fields"]) == {4}


def test_plain_file_loads_what_the_general_path_loads(load, db_url, tmp_path) -> None:
    # leading zeros, the extremes of the rating scale, epoch 0 and 2100-01-01 (beyond year 2255
    # the general path's to_timestamp(float8) is off by microseconds; the plain path is exact)
    ratings = RATINGS + "3,1,0.5,0\n3,2,5.0,4102444800\n007,3,1.0,0964982703\n"
    plain = write(tmp_path / "plain", {"movies.csv": MOVIES, "ratings.csv": ratings})
    general = write(tmp_path / "crlf", {"movies.csv": MOVIES, "ratings.csv": ratings.replace("\n", "\r\n")})
    load(db_url, plain)
    sql = "SELECT user_id, movie_id, rating, ts::text FROM ratings ORDER BY 1, 2"
    via_plain = query(db_url, sql)
    assert _plain(plain / "ratings.csv", db_url) == (6, (plain / "ratings.csv").stat().st_size)
    report = load(db_url, general)["ratings"]  # CRLF: the general path
    assert _plain(general / "ratings.csv", db_url) == (None, 0)
    assert (report["read"], report["loaded"]) == (6, 6)
    assert query(db_url, sql) == via_plain
    assert via_plain[0] == (1, 1, 4.0, "2000-07-30 18:45:03+00")
    assert (3, 1, 0.5, "1970-01-01 00:00:00+00") in via_plain
    assert (7, 3, 1.0, "2000-07-30 18:45:03+00") in via_plain


@pytest.mark.parametrize(
    "extra",
    [
        "1,1,2.5,964982999\n",  # duplicate (user, movie): the primary key build fails
        "3,42,4.0,964982999\n",  # unknown movie: the foreign key build fails
        "3,1,4.0,964982999",  # no line break at the end
    ],
)
def test_key_failures_leave_ratings_unchanged_and_rewind_progress(load, db_url, tmp_path, extra) -> None:
    load(db_url, write(tmp_path / "before", {"movies.csv": MOVIES, "ratings.csv": RATINGS}))
    sql = "SELECT user_id, movie_id, rating, ts FROM ratings ORDER BY 1, 2"
    before = query(db_url, sql)
    path = write(tmp_path / "after", {"ratings.csv": RATINGS + extra}) / "ratings.csv"
    assert _plain(path, db_url) == (None, 0)
    assert query(db_url, sql) == before


def test_other_column_orders_take_the_general_path(load, db_url, tmp_path) -> None:
    ratings = "movieId,userId,timestamp,rating\n1,1,964982703,4.0\n2,1,964981247,3.5\n"
    directory = write(tmp_path, {"movies.csv": MOVIES, "ratings.csv": ratings})
    assert load(db_url, directory)["ratings"]["loaded"] == 2
    assert _plain(directory / "ratings.csv", db_url) == (None, 0)
    rows = query(db_url, "SELECT user_id, movie_id, rating FROM ratings ORDER BY 2")
    assert rows == [(1, 1, 4.0), (1, 2, 3.5)]


def test_read_ahead_yields_in_order_and_raises_the_producers_error() -> None:
    def numbers():
        yield from range(10)
        raise ValueError("line 11")

    seen = []
    with pytest.raises(ValueError, match="line 11"):
        for number in _read_ahead(numbers(), depth=2):
            seen.append(number)
    assert seen == list(range(10))


def test_read_ahead_closed_early_stops_its_thread() -> None:
    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            yield produced[-1]

    blocks = _read_ahead(endless(), depth=2)
    assert next(blocks) == 0
    blocks.close()  # as when the COPY fails: the thread gives up instead of blocking on a full queue
    assert not [t for t in threading.enumerate() if t.name == "ratings-convert"]
    assert len(produced) <= 5  # one taken, two queued, one waiting to be put, one being made


@pytest.mark.parametrize("tail", [b"", b"9,3,4.50,964982703\n"])
def test_a_file_of_several_blocks(load, db_url, tmp_path, tail) -> None:
    # past the first block; a line that is not plain there still sends the file to the general path
    users = range(1, BLOCK_SIZE // 20 + 2)
    lines = b"".join(b"%d,1,4.0,964982703\n" % user for user in users) + tail
    assert len(lines) > BLOCK_SIZE
    path = write(
        tmp_path, {"movies.csv": MOVIES, "ratings.csv": b"userId,movieId,rating,timestamp\n" + lines}
    )
    rows = len(users) + (1 if tail else 0)
    assert load(db_url, path)["ratings"]["loaded"] == rows
    assert query(db_url, "SELECT count(*), max(user_id), sum(user_id) FROM ratings") == [
        (rows, users[-1], sum(users) + (9 if tail else 0))
    ]
    size = (path / "ratings.csv").stat().st_size
    assert _plain(path / "ratings.csv", db_url) == ((None, 0) if tail else (rows, size))
