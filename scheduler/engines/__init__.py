"""Where a recluster's ratings-sized steps run: in this process (`local`) or on Apache Spark.

The local engine is scheduler/features.py and scheduler/steps.py as they are; the Spark engine
(scheduler/engines/spark_steps.py) replaces only the steps whose data grows with the ratings
and hands the same per-movie inputs to the same driver-side code. pyspark is imported only by
the Spark modules, and only when a run asks for them (the `spark` extra is optional).
"""

from typing import TYPE_CHECKING

from cinecluster.errors import UserError
from cinecluster.settings import Settings

if TYPE_CHECKING:
    from scheduler.engines.spark_steps import SparkRun

INSTALL_HINT = "pip install 'cinecluster[spark]' (and a Java 17+ runtime)"


def require_pyspark() -> None:
    """A one-line error instead of an ImportError deep inside a run."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError(f"--engine spark needs the spark extra: {INSTALL_HINT}") from None


def open_engine(
    engine: str | None, master: str | None, database_url: str, settings: Settings
) -> "SparkRun | None":
    """None for the in-process engine; for `spark`, a run whose session starts on first use."""
    if (engine or settings.recluster_engine) != "spark":
        return None
    require_pyspark()
    from scheduler.engines.spark_steps import SparkRun

    return SparkRun(master or settings.spark_master, database_url, settings)
