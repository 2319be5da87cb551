"""Files compatible with the team's pipeline: clusters_movies.csv and the model files."""

from typing import BinaryIO

from sqlalchemy import Connection

from cinecluster.activation import active_version
from cinecluster.db import raw_connection
from cinecluster.errors import UserError

CLUSTERS_CSV_SQL = """
    COPY (
        SELECT movie_id AS "movieId", title,
               CASE WHEN cardinality(genres) = 0 THEN '(no genres listed)'
                    ELSE array_to_string(genres, '|') END AS genres,
               cluster
        FROM current_movie_clusters ORDER BY movie_id
    ) TO STDOUT (FORMAT csv, HEADER)
"""


def write_clusters_csv(conn: Connection, out: BinaryIO) -> int:
    """movieId,title,genres,cluster of the active version (genres '|'-joined, as MovieLens)."""
    if active_version(conn) is None:
        raise UserError("no model yet: run `cinecluster recluster` first")
    written = 0
    with raw_connection(conn).cursor().copy(CLUSTERS_CSV_SQL) as copy:
        for block in copy:
            out.write(block)
            written += len(block)
    return written
