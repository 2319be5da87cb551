"""Refuse z-score standardized rating files as a whole instead of rejecting them row by row.

The team also produced ratings scaled to mean 0 and unit variance; the database keeps stars
(scaling is the recluster job's work), and such a file is one mistake, not a million bad rows.
"""

from sqlalchemy import Connection, text

from cinecluster.errors import UserError
from loaders.files import SourceFile
from loaders.rules import NUMBER
from loaders.stage import Stage


def refuse_standardized(conn: Connection, source: SourceFile, stage: Stage) -> None:
    """UserError when the numeric ratings look standardized: negatives, mean near 0, off the grid."""
    numeric = "" if stage.typed else f"WHERE rating ~ {NUMBER}"
    negative, off_grid, total, mean = conn.execute(
        text(
            f"""
            SELECT count(*) FILTER (WHERE v < 0), count(*) FILTER (WHERE v * 2 <> round(v * 2)),
                   count(*), coalesce(avg(v), 0)
            FROM (SELECT rating::float8 AS v FROM {stage.table} {numeric}) r
            """
        )
    ).one()
    if total and negative > 0 and abs(mean) < 0.5 and off_grid > total / 2:
        raise UserError(
            f"{source.path}: ratings look standardized (z-scores: {negative} negative values, mean "
            f"{mean:.2f}, {off_grid} of {total} off the 0.5 star grid); the database keeps star "
            "ratings (0.5..5.0), please load the original star ratings file"
        )
