"""Model versions (the binary model columns are never sent)."""

from datetime import datetime
from typing import Any

from pydantic import Field

from service.schemas.common import ApiModel


class ModelOut(ApiModel):
    version: int = Field(examples=[1])
    createdAt: datetime
    algorithm: str = Field(examples=["MiniBatchKMeans"])
    params: dict[str, Any] = Field(
        description="Every recluster option the version was built with (POST /admin/recluster's"
        " names, snake_case; `engine`: the one that ran), `n_init` and the feature spec. Versions"
        " written before the options were stored in full hold k, batch_size, seed and scaler.",
        examples=[{"k": 10, "batch_size": 1000, "seed": 42, "scaler": "zscore", "ease_lambda": 200.0}],
    )
    metrics: dict[str, Any] = Field(examples=[{"inertia": 1234.5, "silhouette": 0.21}])
    featureNames: list[str]
    dataCounts: dict[str, Any] = Field(examples=[{"movies": 9742, "ratings": 100836}])
    joblibSize: int
    onnxSize: int
    active: bool
