"""`cinecluster evaluate --sweep`: the item model's options, one at a time around the defaults.

Each point is a real recluster run on the training split with that option changed (the job's
own code: the item model, its pruned table, the stored lists), and the default strategy's
lists through the API's function, scored like the main table. The defaults in
scheduler/options.py are the sweep's choice; docs/evaluation.md shows the current sweep.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from evaluation.data import Holdout
from ranking.metrics import score_lists
from scheduler.features import FeatureOptions
from scheduler.job import run_recluster
from scheduler.options import ReclusterOptions, options_from
from service.recommenders import DEFAULT_STRATEGY, STRATEGIES, ListRequest

DEFAULTS = ReclusterOptions()
# one option at a time; the default value is in each list, so its row is the baseline
POINTS: dict[str, list[float]] = {
    "ease_lambda": [25, 50, 100, 200, 400, 1000],
    "ease_movies": [500, 1000, 2000, 3000, 6000, 9000],
    "ease_k": [25, 50, 100, 200, 500, 1000],
}


@dataclass
class SweepPoint:
    option: str
    value: float
    ndcg: float
    coverage: float
    liked_share: float  # share of the training likes on the movies inside the solve
    seconds: float  # the item model's fit and write, from the run's metrics


def sweep(
    engine: Engine,
    split: Holdout,
    users: list[int],
    catalogue: int,
    k: int,
    clusters: int,
    features: FeatureOptions,
    progress: Callable[[str], None],
) -> list[SweepPoint]:
    points: list[SweepPoint] = []
    for option, values in POINTS.items():
        for value in values:
            progress(f"sweep: {option.replace('_', '-')} {value:g}")
            options = options_from({"k": clusters, option: value})
            run = run_recluster(engine, options, features=features, trigger="cli")
            with engine.connect() as conn:
                lists = _lists(conn, users, k, run.version)
            scores = score_lists(lists, split.relevant, catalogue, k)
            model = run.metrics["item_model"]
            points.append(
                SweepPoint(
                    option, value, scores.ndcg, scores.coverage, model["liked_share"], model["seconds"]
                )
            )
    return points


def _lists(conn: Connection, users: list[int], k: int, version: int) -> dict[int, list[int]]:
    strategy = STRATEGIES[DEFAULT_STRATEGY]
    request = ListRequest(k, 0, None, version)

    def ranked(user: int) -> list[int]:
        return [r.movie_id for r in strategy(conn, user, request)]

    return {user: ranked(user) for user in users}


def is_default(point: SweepPoint) -> bool:
    return getattr(DEFAULTS, point.option) == point.value
