"""Per-movie features, computed by SQL aggregates inside PostgreSQL.

The team's definition: one-hot genres, average rating and rating count per movie, 0 for
movies without ratings (their `fillna(0)`). Optional extras behind `FeatureOptions`. Python
only ever receives the per-movie matrix (one row per movie), never the ratings.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Integer, Text

from cinecluster.db import raw_connection

NO_GENRES = "(no genres listed)"  # the team's get_dummies column for movies without genres


@dataclass(frozen=True)
class FeatureOptions:
    """Feature choices of a run; stored in model_versions.params so placement can repeat them."""

    log_count: bool = False  # ln(1 + count) instead of the raw count in the matrix
    bayes_avg: bool = False  # add (C*m + sum) / (C + count), m = global mean rating
    year: bool = False  # add the release year (missing years -> the median year)
    prior_weight: float = 10.0  # C of the Bayesian average


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to rebuild one movie's feature vector exactly as in training."""

    genres: list[str]
    options: FeatureOptions
    prior_mean: float | None = None  # fixed at training time; None = compute from ratings
    year_fill: float | None = None

    @property
    def extra_names(self) -> list[str]:
        names = ["log_count"] if self.options.log_count else []
        return (
            names
            + (["bayes_avg"] if self.options.bayes_avg else [])
            + (["year"] if self.options.year else [])
        )

    @property
    def numeric_names(self) -> list[str]:
        count = [] if self.options.log_count else ["rating_count"]
        return ["avg_rating", *count, *self.extra_names]

    @property
    def feature_names(self) -> list[str]:
        """Matrix columns: the scaled numeric features first, then the 0/1 genre flags."""
        return [*self.numeric_names, *self.genres]

    def to_json(self) -> dict[str, Any]:
        return {
            "genres": self.genres,
            "options": asdict(self.options),
            "prior_mean": self.prior_mean,
            "year_fill": self.year_fill,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FeatureSpec":
        return cls(
            genres=list(data["genres"]),
            options=FeatureOptions(**data["options"]),
            prior_mean=data.get("prior_mean"),
            year_fill=data.get("year_fill"),
        )


@dataclass
class FeatureMatrix:
    """Rows sorted by movie_id; `values` columns follow `spec.feature_names`."""

    spec: FeatureSpec
    movie_ids: np.ndarray
    values: np.ndarray
    ratings: int = 0
    extra_stats: dict[str, float] = field(default_factory=dict)


def genre_list(conn: Connection) -> list[str]:
    """Alphabetical genres (get_dummies order), plus the team's no-genre column when needed."""
    genres = conn.execute(text("SELECT DISTINCT unnest(genres) AS g FROM movies ORDER BY g")).scalars()
    names = list(genres)
    if conn.execute(text("SELECT EXISTS (SELECT 1 FROM movies WHERE cardinality(genres) = 0)")).scalar():
        names.insert(0, NO_GENRES)
    return names


def _select_sql(spec: FeatureSpec, *, only_ids: bool, aggregates: str | None = None) -> str:
    where = "WHERE movie_id = ANY(:ids)" if only_ids else ""
    # the per-movie count and sum, as computed elsewhere (the Spark engine) into a table of
    # the same columns; the rest of the definition stays here, once
    counted = (
        f"SELECT movie_id, n, total FROM {aggregates}"
        if aggregates
        else f"SELECT movie_id, count(*) AS n, sum(rating)::float8 AS total"
        f" FROM ratings {where} GROUP BY movie_id"
    )
    extra_sql = {
        "log_count": "ln(1 + coalesce(a.n, 0))",
        "bayes_avg": "(:c * s.prior_mean + coalesce(a.total, 0)) / (:c + coalesce(a.n, 0))",
        "year": "coalesce(m.year, s.year_fill)",
    }
    extra = ", ".join(extra_sql[name] for name in spec.extra_names)
    return f"""
        WITH agg AS ({counted}), stats AS (
            SELECT coalesce(CAST(:prior_mean AS float8),
                            (SELECT sum(total) / nullif(sum(n), 0) FROM agg), 0) AS prior_mean,
                   coalesce(CAST(:year_fill AS float8),
                            (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY year) FROM movies),
                            0) AS year_fill
        )
        SELECT m.movie_id,
               coalesce(a.total / a.n, 0) AS avg_rating,
               coalesce(a.n, 0)::int AS rating_count,
               ARRAY(SELECT (CASE WHEN g.name = '{NO_GENRES}' THEN cardinality(m.genres) = 0
                                  ELSE g.name = ANY(m.genres) END)::int::int2
                     FROM unnest(CAST(:genres AS text[])) WITH ORDINALITY AS g(name, i)
                     ORDER BY g.i) AS genre_flags,
               ARRAY[{extra}]::float8[] AS extra,
               s.prior_mean, s.year_fill
        FROM movies m LEFT JOIN agg a USING (movie_id) CROSS JOIN stats s
        {"WHERE m.movie_id = ANY(:ids)" if only_ids else ""}
    """


def _params(spec: FeatureSpec, ids: Sequence[int] | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "genres": spec.genres,
        "prior_mean": spec.prior_mean,
        "year_fill": spec.year_fill,
        "c": spec.options.prior_weight,
    }
    if ids is not None:
        params["ids"] = list(ids)
    return params


def _bind(sql: str, only_ids: bool) -> Any:
    stmt = text(sql).bindparams(bindparam("genres", type_=ARRAY(Text)))
    return stmt.bindparams(bindparam("ids", type_=ARRAY(Integer))) if only_ids else stmt


def _matrix(spec: FeatureSpec, rows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    rows = sorted(rows, key=lambda r: r.movie_id)
    n = len(rows)
    ids = np.fromiter((r.movie_id for r in rows), dtype=np.int64, count=n)
    avg = np.fromiter((r.avg_rating for r in rows), dtype=np.float64, count=n)
    count = np.fromiter((r.rating_count for r in rows), dtype=np.float64, count=n)
    extra = np.array([r.extra for r in rows], dtype=np.float64).reshape(n, len(spec.extra_names))
    flags = np.array([r.genre_flags for r in rows], dtype=np.float64).reshape(n, len(spec.genres))
    first = [avg[:, None]] + ([] if spec.options.log_count else [count[:, None]])
    return ids, np.hstack([*first, extra, flags])


def rebuild_features(
    conn: Connection, options: FeatureOptions, aggregates: str | None = None
) -> FeatureMatrix:
    """Replace movie_features from the ratings (inside the caller's transaction); return the matrix.

    `aggregates`: a table of (movie_id, n, total) to take the per-movie count and sum of ratings
    from instead of aggregating `ratings` here (scheduler/engines/spark_steps.py)."""
    spec = FeatureSpec(genres=genre_list(conn), options=options)
    # A plain SELECT, so the GROUP BY over ratings runs with parallel workers (a data-modifying
    # CTE would force a serial plan); enough work_mem to aggregate without spilling to disk.
    conn.execute(text("SET LOCAL work_mem = '64MB'"))
    sql = _select_sql(spec, only_ids=False, aggregates=aggregates)
    rows = conn.execute(_bind(sql, False), _params(spec, None)).all()
    conn.execute(text("DELETE FROM movie_features"))
    cursor = raw_connection(conn).cursor()
    columns = "movie_id, avg_rating, rating_count, genre_flags, extra"
    with cursor.copy(f"COPY movie_features ({columns}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((r.movie_id, r.avg_rating, r.rating_count, r.genre_flags, r.extra))
    conn.execute(text("ANALYZE movie_features"))  # the API joins it; stale stats misplan those joins
    ids, values = _matrix(spec, rows)
    prior_mean = float(rows[0].prior_mean) if rows else 0.0
    year_fill = float(rows[0].year_fill) if rows else 0.0
    fixed = FeatureSpec(genres=spec.genres, options=options, prior_mean=prior_mean, year_fill=year_fill)
    ratings = int(sum(r.rating_count for r in rows))
    return FeatureMatrix(spec=fixed, movie_ids=ids, values=values, ratings=ratings)


def features_for(conn: Connection, spec: FeatureSpec, movie_ids: Sequence[int]) -> FeatureMatrix:
    """Feature rows of some movies exactly as a model with `spec` saw them (new movies: unrated)."""
    rows = conn.execute(_bind(_select_sql(spec, only_ids=True), only_ids=True), _params(spec, movie_ids))
    ids, values = _matrix(spec, rows.all())
    return FeatureMatrix(spec=spec, movie_ids=ids, values=values)
