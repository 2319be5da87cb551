"""A replace-mode movies file that drops movies once a model exists (set-based cascades)."""

import pytest
from conftest import query, write

# figures of ml-latest-small itself (counts, user and movie ids, titles)
pytestmark = pytest.mark.real_sample

# the model tables and their columns that name a movie
_MODEL = {
    "movie_clusters": ("movie_id",),
    "movie_features": ("movie_id",),
    "movie_neighbours": ("movie_id", "neighbour_id"),
    "item_neighbours": ("movie_id", "neighbour_id"),
}


def _counts(url: str, without: str = "") -> list[tuple]:
    """Rows per model table (naming none of the movie ids in `without`)."""
    parts = []
    for table, columns in _MODEL.items():
        where = " AND ".join(f"{column} NOT IN ({without})" for column in columns) if without else "true"
        parts.append(f"SELECT '{table}', count(*) FROM {table} WHERE {where}")
    return query(url, " UNION ALL ".join(parts))


_KEYS = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated,
           obj_description(oid, 'pg_constraint')
    FROM pg_constraint WHERE confrelid = 'movies'::regclass ORDER BY 1, 2
"""


def test_deleting_movies_removes_every_model_row_naming_them(
    load, clustered_db_url, sample_data, tmp_path
) -> None:
    lines = (sample_data / "movies.csv").read_text().splitlines(keepends=True)
    kept, dropped = lines[:-300], lines[-300:]  # the header stays
    dropped_ids = ",".join(line.split(",", 1)[0] for line in dropped)
    expected = _counts(clustered_db_url, without=dropped_ids)
    keys = query(clustered_db_url, _KEYS)
    assert all(a[1] > b[1] for a, b in zip(_counts(clustered_db_url), expected, strict=True))  # rows to go

    report = load(clustered_db_url, movies=write(tmp_path, {"m.csv": "".join(kept)}) / "m.csv")["movies"]

    assert report["deleted"] == 300
    assert _counts(clustered_db_url) == expected
    assert query(clustered_db_url, _KEYS) == keys  # the dropped foreign keys are back, validated
    assert len(keys) > 6  # the model tables' keys, partition clones included, were there to compare
    assert query(clustered_db_url, f"SELECT count(*) FROM ratings WHERE movie_id IN ({dropped_ids})") == [
        (0,)
    ]
