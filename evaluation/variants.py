"""`cinecluster evaluate --variants`: the default ranking's parts and weights, one row each.

After the scratch recluster, every held-out user is ranked again in numpy by the production
code (ranking/users.py `Ranker`, the code of the stored lists, equal to the API's SQL for every
user) with the item model and the blend changed, one thing at a time:

- the parts: EASE with a flat profile and no next movie (the previous default), EASE with the
  recency-weighted profile, DLAE with it, DLAE + the next movie (the default: its lists are the
  `api: ease (default)` row's, a test checks they score the same);
- sweeps around the default: the next-movie weight, the recency half-life, the next-movie decay
  and DLAE's p.

The inputs are the run's: the scratch database's ratings (the training split) read as the run
reads them (scheduler/ratings.py), its clusters (movie_clusters), ln(1 + ratings) from
PostgreSQL (scheduler/item_tables.py `log_popularity`). The item models and the successors table
are fitted in process with the run's functions on the run's training data: the liked rule of
ranking/liked.py and the run's own training mask (the run hides its holdout sample's latest
ratings from its models: scheduler/holdout_sample.py), so the default variant's tables are the stored
ones. Lists are the top k of the ranking, then the most rated unrated movies (as the API), and
are scored like every strategy of the main table.

Cost on ml-latest-small: one ratings read, one 3,000 x 3,000 inverse per item model (EASE and
four DLAE p values), one successor count, and one Ranker pass over the users per distinct row.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from math import ceil, log2
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, Engine, text

from evaluation.rows import Row, row_dict
from ranking import RECENCY_QUANTUM, SEQUENCE_RECENT, W_SEQUENCE
from ranking.liked import liked_mask
from ranking.users import Blend, Ranker, Ratings, top_with_popular
from scheduler.co_likes import liked_rows
from scheduler.holdout_sample import hidden_pairs, sample_ratings, sample_users
from scheduler.item_model import ItemModelParams, fit_item_model
from scheduler.item_tables import ItemTable, log_popularity
from scheduler.options import ReclusterOptions
from scheduler.quality import POPULARITY
from scheduler.ratings import fetch_ratings
from scheduler.sequence import successor_counts, successor_weights

HALF_LIFE = 5.0  # ratings: the default profile weight 0.4 + 0.6 * 0.5^(r / 5) (ranking.RECENCY)
DECAY = 0.8  # per recent rating: the default next-movie weights 0.8^r (ranking.SEQUENCE_DECAY)
FLOOR, SPAN = 0.4, 0.6  # recency weight = FLOOR + SPAN * 0.5^(r / half-life)
_OPTIONS = ReclusterOptions()  # the item model's defaults, as the evaluation's recluster runs it


@dataclass(frozen=True)
class Variant:
    """One way to rank: the item model, the profile's weights and the next-movie component."""

    name: str
    group: str  # "parts" or the sweep's name
    model: str = _OPTIONS.ease_model
    dropout: float = _OPTIONS.ease_dropout  # DLAE's p
    half_life: float | None = HALF_LIFE  # None: a flat profile (every liked movie weighs 1)
    decay: float = DECAY
    w_sequence: float | None = W_SEQUENCE  # None: no next-movie component

    @property
    def key(self) -> tuple[object, ...]:
        """What the lists depend on (rows with the same key share one ranking)."""
        next_movie = None if self.w_sequence is None else (self.decay, self.w_sequence)
        return (self.model, self.dropout if self.model == "dlae" else None, self.half_life, next_movie)

    @property
    def is_default(self) -> bool:
        return self.key == DEFAULT.key

    def blend(self) -> Blend:
        recency = None if self.half_life is None else recency_weights(self.half_life)
        return Blend(recency, decay_weights(self.decay), 0.0 if self.w_sequence is None else self.w_sequence)

    def params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            **({"dropout": self.dropout} if self.model == "dlae" else {}),
            "half_life": self.half_life,
            "next_movie": self.w_sequence is not None,
            **({"decay": self.decay, "w_sequence": self.w_sequence} if self.w_sequence is not None else {}),
        }


DEFAULT = Variant("DLAE + next movie (default)", "parts")


def _sweep(group: str, field: str, values: tuple[float, ...]) -> list[Variant]:
    """`field` at each value, the rest as the default (the default's value marked *)."""
    default = getattr(DEFAULT, field)
    return [
        replace(
            DEFAULT,
            name=f"{group} {value:g}{' *' if value == default else ''}",
            group=group,
            **{field: value},  # type: ignore[arg-type]  # field names a float field of Variant
        )
        for value in values
    ]


VARIANTS: list[Variant] = [
    Variant(
        "EASE, flat profile, no next movie (previous default)",
        "parts",
        model="ease",
        half_life=None,
        w_sequence=None,
    ),
    Variant("EASE, recency profile", "parts", model="ease", w_sequence=None),
    Variant("DLAE, recency profile", "parts", w_sequence=None),
    DEFAULT,
    *_sweep("next-movie weight", "w_sequence", (0.0, 0.3, 0.5, 0.7, 1.0)),
    *_sweep("recency half-life", "half_life", (2.5, 5.0, 10.0)),
    *_sweep("next-movie decay", "decay", (0.7, 0.8, 0.9)),
    *_sweep("DLAE p", "dropout", (0.1, 0.2, 0.3, 0.5)),
]


def _quantized(value: float) -> float:
    return round(value / RECENCY_QUANTUM) * RECENCY_QUANTUM


def recency_weights(half_life: float) -> tuple[float, ...]:
    """The profile weight by recency r, FLOOR + SPAN * 0.5^(r / half_life) as multiples of
    RECENCY_QUANTUM, up to the first r where the decaying part is below half a quantum (the
    Ranker repeats the last entry past the end): ranking.RECENCY for the default half-life."""
    last = ceil(half_life * log2(2 * SPAN / RECENCY_QUANTUM))
    return tuple(_quantized(FLOOR + SPAN * 0.5 ** (r / half_life)) for r in range(last + 1))


def decay_weights(decay: float) -> tuple[float, ...]:
    """The next-movie weight of the SEQUENCE_RECENT newest ratings, decay^r quantized as
    ranking.SEQUENCE_DECAY (which it is for the default decay)."""
    return tuple(_quantized(decay**r) for r in range(SEQUENCE_RECENT))


@dataclass
class VariantRow:
    variant: Variant
    row: Row

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.variant.group,
            "default": self.variant.is_default,
            **self.variant.params(),
            **row_dict(self.row),
        }


@dataclass
class _Inputs:
    """The scratch run's data, and its training mask."""

    ids: np.ndarray  # movie ids of the version, sorted (movie indices point into it)
    labels: np.ndarray  # cluster per movie index
    log_pop: np.ndarray
    rating_counts: np.ndarray  # per movie index: its ratings (the popular movies after the list)
    ratings: Ratings
    liked: sp.csr_matrix  # users x movies: liked and trained (the item models' input)
    trained: np.ndarray  # per rating: may train the models


def _inputs(conn: Connection, version: int) -> _Inputs:
    rows = conn.execute(
        text("SELECT movie_id, cluster FROM movie_clusters WHERE version = :v ORDER BY movie_id"),
        {"v": version},
    ).all()
    ids = np.array([r.movie_id for r in rows], dtype=np.int64)
    labels = np.array([r.cluster for r in rows], dtype=np.int64)
    counts = np.zeros(len(ids))
    features = conn.execute(POPULARITY).all()
    movie = np.array([r.movie_id for r in features], dtype=np.int64)
    at = np.searchsorted(ids, movie)
    inside = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == movie)
    counts[at[inside]] = np.array([r.rating_count for r in features], dtype=np.float64)[inside]
    run = fetch_ratings(conn, ids)
    ratings = run.ratings
    # the run's training mask (scheduler/co_likes.py co_likes_step, through its own helpers, so
    # the mask is the run's by construction): its holdout sample's latest ratings and ratings
    # of movies without features train nothing
    liked = liked_mask(ratings.half_stars, ratings.starts)
    users = ratings.users[np.logical_or.reduceat(liked, ratings.starts[:-1])] if len(liked) else liked
    sample = sample_ratings(conn, sample_users(users), ids)
    trained = ~hidden_pairs(ratings, sample)
    if run.known is not None:
        trained &= run.known
    return _Inputs(
        ids,
        labels,
        log_popularity(conn, ids),
        counts,
        ratings,
        liked_rows(ratings, liked & trained, len(ids)),
        trained,
    )


def variant_rows(
    engine: Engine,
    version: int,
    users: list[int],
    k: int,
    score: Callable[[str, dict[int, list[int]], float], Row],
    progress: Callable[[str], None],
    variants: list[Variant] = VARIANTS,
) -> list[VariantRow]:
    """Every variant's lists for `users` (ids), scored by `score(name, lists, seconds)`."""
    progress("variants: reading the training ratings")
    with engine.connect() as conn:
        data = _inputs(conn, version)
    n_movies = len(data.ids)
    models: dict[tuple[str, float], tuple[sp.csr_matrix, np.ndarray]] = {}

    def item_model(variant: Variant) -> tuple[sp.csr_matrix, np.ndarray]:
        key = (variant.model, variant.dropout if variant.model == "dlae" else 0.0)
        if key not in models:
            progress(f"variants: fitting {variant.model}" + (f" p {variant.dropout:g}" if key[1] else ""))
            params = ItemModelParams(
                lam=_OPTIONS.ease_lambda,
                movies=_OPTIONS.ease_movies,
                k=_OPTIONS.ease_k,
                model=variant.model,
                dropout=variant.dropout,
            )
            fitted = fit_item_model(data.liked, params)
            models[key] = (fitted.table.as_matrix(n_movies), fitted.covered)
        return models[key]

    successors: dict[bytes, sp.csr_matrix] = {}

    def successor_table(covered: np.ndarray) -> sp.csr_matrix:
        """item_successors over the item model's movies (the same for every model: the most liked)."""
        key = covered.tobytes()
        if key not in successors:
            progress("variants: counting the next movies")
            local = successor_weights(successor_counts(data.ratings, covered, n_movies, data.trained))
            table = ItemTable(
                covered[local.movie], local.rank, covered[local.neighbour], local.similarity, local.co_likes
            )
            successors[key] = table.as_matrix(n_movies)
        return successors[key]

    wanted = np.isin(data.ratings.users, np.array(users, dtype=np.int64))
    ranked: dict[tuple[object, ...], tuple[dict[int, list[int]], float]] = {}
    rows = []
    for variant in variants:
        if variant.key not in ranked:
            progress(f"variants: {variant.name}")
            weights, covered = item_model(variant)
            following = None if variant.w_sequence is None else successor_table(covered)
            clock = time.perf_counter()  # the ranking's time (the fits' are not in it)
            ranker = Ranker(
                weights,
                data.labels,
                data.log_pop,
                successors=following,
                blend=variant.blend(),
                length=k,
            )
            tops = top_with_popular(ranker.rank(data.ratings)[0], data.ratings, data.rating_counts, k)
            lists = {
                int(user): data.ids[top].tolist()
                for user, top, keep in zip(data.ratings.users, tops, wanted, strict=True)
                if keep
            }
            ranked[variant.key] = (lists, time.perf_counter() - clock)
        lists, seconds = ranked[variant.key]
        rows.append(VariantRow(variant, score(variant.name, lists, seconds)))
    return rows


def comparison(reports: list[Any]) -> list[dict[str, Any]]:
    """Per variant, in table order: {"variant", "group", "default", protocol: {"ndcg", "coverage"}}
    (relevant = held-out rating >= 4), for the reports (evaluation/run.py Report) that have variants."""
    reports = [report for report in reports if report.variants]
    if not reports:
        return []
    table = []
    for position, first in enumerate(reports[0].variants):
        entry: dict[str, Any] = {
            "variant": first.variant.name,
            "group": first.variant.group,
            "default": first.variant.is_default,
        }
        for report in reports:
            results = report.variants[position].row.results["rating>=4"]
            entry[report.protocol] = {metric: round(results[metric][0], 4) for metric in ("ndcg", "coverage")}
        table.append(entry)
    return table
