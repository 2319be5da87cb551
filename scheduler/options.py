"""The options of one recluster run: one model for the CLI, the API's request body and the stored run.

Adding an option is one field here (type, default, bounds, description): `POST /admin/recluster`
accepts and validates it (422 otherwise), recluster_runs.options stores it, and the job receives
it in `ReclusterOptions`. Light on purpose (pydantic only): the API imports it, and the API
process never imports the job's modules (scikit-learn and co.).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel, to_snake

from cinecluster.errors import UserError

Scaler = Literal["zscore", "minmax", "robust"]
Engine = Literal["local", "spark"]


class ReclusterOptions(BaseModel):
    """Defaults are the CLI's; JSON names are camelCase (`batchSize`), snake_case is accepted too."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    k: int = Field(10, ge=2, le=1000, description="Number of clusters.")
    batch_size: int = Field(1000, gt=0, le=1_000_000, description="MiniBatchKMeans batch size.")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Random seed (same data + seed = same clusters).")
    scaler: Scaler = Field("zscore", description="Scaling of the numeric features.")
    log_count: bool = Field(False, description="ln(1+count) instead of the raw rating count.")
    bayes_avg: bool = Field(False, description="Add a Bayesian average rating feature.")
    year: bool = Field(False, description="Add the release year as a feature.")
    # The item model behind the default ranking (scheduler/item_model.py); defaults from the
    # sweeps in docs/evaluation.md. Memory of the solve: ~3 x 8 x ease_movies² bytes.
    ease_lambda: float = Field(200.0, gt=0, le=1e7, description="EASE regularisation λ.")
    ease_movies: int = Field(
        3000, ge=2, le=15_000, description="Most-liked movies the EASE solve covers (dense: movies²)."
    )
    ease_k: int = Field(200, ge=1, le=1000, description="EASE weights kept per movie (largest |weight|).")
    ease_model: Literal["dlae", "ease"] = Field("dlae", description="Item model: dlae (default) or ease.")
    ease_dropout: float = Field(0.2, gt=0, lt=1, description="DLAE's dropout p (ignored by ease).")

    # Safe to take over HTTP: the API only records it; the scheduler runs the job (and the Spark
    # master stays a setting of the scheduler, never a URL a client chooses). None: the setting.
    engine: Engine | None = Field(
        None, description="local or spark; unset: CINECLUSTER_RECLUSTER_ENGINE of the scheduler."
    )

    def stored(self) -> dict[str, Any]:
        """As kept in recluster_runs.options: every option, snake_case."""
        return self.model_dump()


def options_from(values: dict[str, Any]) -> ReclusterOptions:
    """Validate options given by name (CLI, tests, a stored run); a mistake is one UserError line."""
    try:
        return ReclusterOptions.model_validate(values)
    except ValidationError as error:
        raise UserError(describe(error)) from None


def describe(error: ValidationError) -> str:
    """The first problem, phrased like the CLI flag: '--k must be at least 2, got 1'."""
    first = error.errors()[0]
    name = "--" + "-".join(to_snake(str(part)) for part in first["loc"]).replace("_", "-")
    context = first.get("ctx", {})
    given = first.get("input")
    match first["type"]:
        case "greater_than_equal":
            return f"{name} must be at least {context['ge']}, got {given}"
        case "greater_than" if context.get("gt") == 0:
            return f"{name} must be positive, got {given}"
        case "less_than_equal":
            return f"{name} must be at most {context['le']}, got {given}"
        case "literal_error":
            return f"{name} must be one of {context['expected']}, got {given!r}"
        case "extra_forbidden":
            return f"unknown option {name}"
        case _:
            return f"{name}: {first['msg']}"
