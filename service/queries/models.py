"""Model versions, without their model bytes."""

from typing import Any

import psycopg
from sqlalchemy import bindparam, select

from cinecluster.tables import active_model, model_versions
from service.sql import compile_sql, fetch_all

_MODELS = select(
    model_versions.c.version,
    model_versions.c.created_at,
    model_versions.c.algorithm,
    model_versions.c.params,
    model_versions.c.metrics,
    model_versions.c.feature_names,
    model_versions.c.data_counts,
    model_versions.c.joblib_size,
    model_versions.c.onnx_size,
    (model_versions.c.version == select(active_model.c.version).scalar_subquery()).label("active"),
).order_by(model_versions.c.version.desc())
LIST_MODELS = compile_sql(_MODELS)
ONE_MODEL = compile_sql(_MODELS.where(model_versions.c.version == bindparam("version")))


def list_models(conn: psycopg.Connection, version: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "version": r.version,
            "createdAt": r.created_at,
            "algorithm": r.algorithm,
            "params": r.params,
            "metrics": r.metrics,
            "featureNames": list(r.feature_names),
            "dataCounts": r.data_counts,
            "joblibSize": r.joblib_size,
            "onnxSize": r.onnx_size,
            "active": bool(r.active),
        }
        for r in (
            fetch_all(conn, LIST_MODELS)
            if version is None
            else fetch_all(conn, ONE_MODEL, {"version": version})
        )
    ]
