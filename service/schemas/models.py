"""Model versions (the binary model columns are never sent)."""

from datetime import datetime
from typing import Any

from pydantic import Field

from service.schemas.common import ApiModel


class ModelOut(ApiModel):
    version: int = Field(examples=[1])
    createdAt: datetime
    algorithm: str = Field(examples=["MiniBatchKMeans"])
    params: dict[str, Any] = Field(examples=[{"k": 10, "batch_size": 1000, "seed": 42, "scaler": "zscore"}])
    metrics: dict[str, Any] = Field(examples=[{"inertia": 1234.5, "silhouette": 0.21}])
    featureNames: list[str]
    dataCounts: dict[str, Any] = Field(examples=[{"movies": 9742, "ratings": 100836}])
    joblibSize: int
    onnxSize: int
    active: bool
