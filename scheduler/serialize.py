"""The fitted pipeline as bytes: compressed joblib (the team's format) and ONNX (skl2onnx)."""

import hashlib
import io
from dataclasses import dataclass

import joblib
import numpy as np
from skl2onnx import to_onnx
from sklearn.pipeline import Pipeline

ONNX_OPSETS = {"": 17, "ai.onnx.ml": 3}


@dataclass(frozen=True)
class ModelBytes:
    joblib: bytes
    onnx: bytes

    @property
    def joblib_sha256(self) -> str:
        return hashlib.sha256(self.joblib).hexdigest()

    @property
    def onnx_sha256(self) -> str:
        return hashlib.sha256(self.onnx).hexdigest()


def joblib_bytes(pipeline: Pipeline) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    return buffer.getvalue()


def onnx_bytes(pipeline: Pipeline, n_features: int) -> bytes:
    """Double-precision input, so ONNX labels equal scikit-learn's exactly (float32 may flip ties)."""
    model = to_onnx(pipeline, np.zeros((1, n_features), dtype=np.float64), target_opset=ONNX_OPSETS)
    return model.SerializeToString()


def serialize(pipeline: Pipeline, n_features: int) -> ModelBytes:
    return ModelBytes(joblib=joblib_bytes(pipeline), onnx=onnx_bytes(pipeline, n_features))


def load_joblib(data: bytes) -> Pipeline:
    """Unpickles: only for bytes this job wrote (never for anything a client sent)."""
    return joblib.load(io.BytesIO(data))
