"""Extra work done inside a version's write transaction, before it goes live.

A step is `step(conn, context: WriteContext) -> None` (see scheduler.versions.WriteContext):
it may write more rows for `context.version` (e.g. a global item-kNN neighbour table) and put
numbers into `context.metrics` (stored in model_versions.metrics, e.g. a holdout NDCG@10).
If it raises, the version is not written and the previous one keeps serving.
"""

from scheduler.quality import item_knn_step
from scheduler.user_lists import user_lists_step
from scheduler.versions import WriteStep


def default_write_steps() -> list[WriteStep]:
    """The steps every run does, in order; add a step here to make the job run it."""
    return [
        item_knn_step,  # item_neighbours + metrics["holdout"]
        user_lists_step,  # user_recommendations: the default ranking, precomputed (needs the above)
    ]
