"""`cinecluster evaluate`: the protocol end to end, through the code the API serves.

1. split data/ratings.csv by the protocol (ranking/split.py: temporal, random or last5),
   training part to a temp dir;
2. in a scratch database: migrate, load the training files with the real loader, recluster
   with the real job (features, clusters, item_neighbours all from training data only);
3. every strategy produces each held-out user's top-k through the same function the API
   calls for /recommend/user (service/recommenders), plus the baselines and the reference;
4. score against the held-out ratings: relevant = rating >= 4, and any held-out rating.
Randomised strategies run with seeds 0..SEEDS-1 and report mean and standard deviation.
"""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, text

from cinecluster import migrate
from cinecluster.databases import scratch_database
from cinecluster.db import make_engine
from cinecluster.errors import UserError
from evaluation import baselines
from evaluation.data import Holdout, prepare
from evaluation.movies import movie_lists, movie_strategies
from evaluation.reference import item_knn_lists
from evaluation.rows import METRICS, Row, row_dict
from evaluation.sweep import SweepPoint, sweep
from evaluation.variants import VariantRow, variant_rows
from loaders.files import Kind
from loaders.load import load_files
from ranking.metrics import Scores, score_lists
from scheduler.features import FeatureOptions
from scheduler.job import run_recluster
from service.recommenders import DEFAULT_STRATEGY, STRATEGIES, ListRequest, UserStrategy

SEEDS = 5


@dataclass
class Report:
    rows: list[Row]
    movie_rows: list[Row]
    k: int
    holdout: float
    users: int
    train_ratings: int
    test_ratings: int
    catalogue: int
    model_version: int
    recluster_seconds: float
    clusters: int = 10
    features: str = ""  # the recluster feature flags used, e.g. "--log-count"
    seconds: float = 0.0
    sweep: list[SweepPoint] = field(default_factory=list)  # with --sweep
    variants: list[VariantRow] = field(default_factory=list)  # with --variants
    protocol: str = "temporal"
    seed: int = 0  # the random protocol's split seed

    def as_dict(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "seed": self.seed,
            "k": self.k,
            "holdout": self.holdout,
            "users": self.users,
            "train_ratings": self.train_ratings,
            "test_ratings": self.test_ratings,
            "catalogue": self.catalogue,
            "model_version": self.model_version,
            "recluster_seconds": round(self.recluster_seconds, 2),
            "clusters": self.clusters,
            "features": self.features,
            "seconds": round(self.seconds, 2),
            "default_strategy": DEFAULT_STRATEGY,
            "strategies": [row_dict(row) for row in self.rows],
            "movie_strategies": [row_dict(row) for row in self.movie_rows],
            "sweep": [
                {
                    "option": p.option,
                    "value": p.value,
                    "ndcg": round(p.ndcg, 4),
                    "coverage": round(p.coverage, 4),
                    "liked_share": p.liked_share,
                    "seconds": p.seconds,
                }
                for p in self.sweep
            ],
            "variants": [v.as_dict() for v in self.variants],
        }


Lists = dict[int, list[int]]


def _lists(
    conn: Connection, strategy: UserStrategy, users: list[int], k: int, version: int, seed: int
) -> Lists:
    request = ListRequest(k, 0, None, version, seed)
    return {user: [r.movie_id for r in strategy(conn, user, request)] for user in users}


def _row(name: str, runs: list[Lists], holdout: Holdout, catalogue: int, k: int, seconds: float) -> Row:
    row = Row(name=name, seeds=len(runs), seconds=seconds)
    for relevance, truth in (("rating>=4", holdout.relevant), ("any", holdout.any_rating)):
        scores: list[Scores] = [score_lists(lists, truth, catalogue, k) for lists in runs]
        row.results[relevance] = {
            metric: (
                float(np.mean([getattr(s, metric) for s in scores])),
                float(np.std([getattr(s, metric) for s in scores])),
            )
            for metric in METRICS
        }
        row.users[relevance] = scores[0].users
    return row


def _label(name: str) -> str:
    suffix = " (team's, seen excluded)" if name == "random" else ""
    return f"api: {name}{suffix}{' (default)' if name == DEFAULT_STRATEGY else ''}"


def strategies() -> list[tuple[str, UserStrategy, bool]]:
    """(label, function, randomised) in table order: baselines first, then the API's."""
    api = [(_label(name), function, name == "random") for name, function in STRATEGIES.items()]
    return [
        ("team: random, as written", baselines.team_as_written, True),
        ("popularity", baselines.popularity, False),
        *api,
    ]


def evaluate(
    server_url: str,
    data: Path,
    holdout: float = 0.2,
    k: int = 10,
    progress: Callable[[str], None] = print,
    *,
    clusters: int = 10,
    features: FeatureOptions | None = None,
    with_sweep: bool = False,
    with_variants: bool = False,
    protocol: str = "temporal",
    seed: int = 0,
) -> Report:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cinecluster-eval-") as tmp:
        progress("splitting ratings" if protocol == "temporal" else f"splitting ratings ({protocol})")
        files, split = prepare(data, holdout, Path(tmp), protocol, seed)
        with scratch_database(server_url, "cinecluster_eval") as url:
            engine = make_engine("evaluate", url)
            try:
                chosen = features or FeatureOptions()
                report = _run(engine, files, split, holdout, k, progress, clusters, chosen)
                users = sorted(u for u in split.any_rating if u in _known_users(engine))
                if with_variants:  # before the sweep's runs: this run's version and tables

                    def score(name: str, lists: Lists, seconds: float) -> Row:
                        return _row(name, [lists], split, report.catalogue, k, seconds)

                    report.variants = variant_rows(engine, report.model_version, users, k, score, progress)
                if with_sweep:
                    report.sweep = sweep(
                        engine, split, users, report.catalogue, k, clusters, chosen, progress
                    )
            finally:
                engine.dispose()
    report.protocol, report.seed = protocol, seed
    report.seconds = time.perf_counter() - started
    return report


def _known_users(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT DISTINCT user_id FROM ratings")).scalars())


def _run(
    engine: Engine,
    files: dict[Kind, Path],
    split: Holdout,
    holdout: float,
    k: int,
    progress: Callable[[str], None],
    clusters: int,
    features: FeatureOptions,
) -> Report:
    migrate.upgrade(engine)
    progress("loading the training split")
    loaded = load_files(engine, files, "replace")
    if loaded.rejected_count:
        raise UserError(f"the loader rejected {loaded.rejected_count} training rows; clean the data first")
    progress("reclustering")
    clock = time.perf_counter()
    version = run_recluster(engine, k=clusters, features=features, trigger="cli").version
    recluster_seconds = time.perf_counter() - clock
    with engine.connect() as conn:
        catalogue = np.array(
            conn.execute(text("SELECT movie_id FROM movies ORDER BY movie_id")).scalars().all()
        )
        known = set(conn.execute(text("SELECT DISTINCT user_id FROM ratings")).scalars())
        users = sorted(u for u in split.any_rating if u in known)
        train_rows = int(conn.execute(text("SELECT count(*) FROM ratings")).scalar_one())
        rows: list[Row] = []
        for label, strategy, randomised in strategies():
            progress(f"ranking: {label}")
            clock = time.perf_counter()
            runs = [
                _lists(conn, strategy, users, k, version, seed)
                for seed in (range(SEEDS) if randomised else [0])
            ]
            rows.append(_row(label, runs, split, len(catalogue), k, time.perf_counter() - clock))
        movie_rows: list[Row] = []
        for label, movie_strategy, randomised in movie_strategies():
            progress(f"similar movies: {label}")
            clock = time.perf_counter()
            seeds = range(SEEDS) if randomised else [0]
            runs = [movie_lists(conn, movie_strategy, split, users, k, version, seed) for seed in seeds]
            movie_rows.append(_row(label, runs, split, len(catalogue), k, time.perf_counter() - clock))
    progress("ranking: item-kNN reference")
    clock = time.perf_counter()
    reference = item_knn_lists(split.train_users, split.train_movies, catalogue, k)
    reference = {user: reference.get(user, []) for user in users}
    rows.append(
        _row(
            "reference: item-kNN, all rated, 50 nb",
            [reference],
            split,
            len(catalogue),
            k,
            time.perf_counter() - clock,
        )
    )
    return Report(
        rows=rows,
        movie_rows=movie_rows,
        k=k,
        holdout=holdout,
        users=len(users),
        train_ratings=train_rows,
        test_ratings=split.test_rows,
        catalogue=len(catalogue),
        model_version=version,
        recluster_seconds=recluster_seconds,
        clusters=clusters,
        features=" ".join(
            f"--{name.replace('_', '-')}"
            for name in ("log_count", "bayes_avg", "year")
            if getattr(features, name)
        ),
    )
