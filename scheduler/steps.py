"""Extra work done inside a version's write transaction, before it goes live.

A step is `step(conn, context: WriteContext) -> None` (see scheduler.versions.WriteContext):
it may write more rows for `context.version` (e.g. a global item-kNN neighbour table) and put
numbers into `context.metrics` (stored in model_versions.metrics, e.g. a holdout NDCG@10).
If it raises, the version is not written and the previous one keeps serving.
"""

from typing import TYPE_CHECKING

from scheduler.co_likes import co_likes_step
from scheduler.item_model import ItemModelParams, item_model_step
from scheduler.quality import holdout_step
from scheduler.sequence import successors_step
from scheduler.user_lists import user_lists_step
from scheduler.versions import WriteStep

if TYPE_CHECKING:
    from scheduler.engines.spark_steps import SparkRun


def default_write_steps(
    item_model: ItemModelParams | None = None, engine: "SparkRun | None" = None
) -> list[WriteStep]:
    """The steps every run does, in order; add a step here to make the job run it (and its
    Spark variant in scheduler/engines/spark_steps.py if it reads ratings-sized data)."""
    if engine is not None:  # the same steps, their ratings-sized work on Spark
        return engine.write_steps(item_model or ItemModelParams())
    return [
        co_likes_step,  # item_neighbours, and the training liked matrix for the next two
        item_model_step(item_model or ItemModelParams()),  # item_weights (DLAE or EASE)
        successors_step(),  # item_successors: the next-movie component
        holdout_step,  # metrics["holdout"]: the default ranking on held-out likes
        user_lists_step,  # user_recommendations: the default ranking, precomputed (needs the above)
    ]
