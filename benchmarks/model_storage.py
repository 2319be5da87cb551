"""Model storage: joblib (the team's kmeans_model.pkl) vs ONNX, side by side on the same model.

Trains the default model on ml-latest-small in a benchmark database (the real job), exports
both stored blobs to files, then measures file size, load time (file -> ready model) and
predict time (one movie, as POST /movies needs; all 9,742 movies; 62k rows) with medians,
plus the stored-centroid placement the API actually uses (no unpickling, no ONNX runtime).
Writes docs/benchmarks.md, section "Model storage: joblib vs ONNX".

    flock /tmp/cinecluster-bench.lock .venv/bin/python benchmarks/model_storage.py
"""

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as rt
from bench_db import prepare
from recluster import write_section
from sqlalchemy import create_engine, text

from cinecluster.databases import drop_database
from cinecluster.settings import DEFAULT_SAMPLE_DATA
from scheduler.features import features_for
from scheduler.placement import load_model
from scheduler.versions import model_bytes


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("CINECLUSTER_SAMPLE_DATA", DEFAULT_SAMPLE_DATA))
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    name = "bench_model_storage"
    url = prepare(args.server, name, args.data)  # migrated, loaded and reclustered by the CLI
    engine = create_engine(url)
    with engine.connect() as conn:
        _, joblib_blob = model_bytes(conn, None, "joblib")
        _, onnx_blob = model_bytes(conn, None, "onnx")
        model = load_model(conn)
        assert model is not None
        ids = list(conn.execute(text("SELECT movie_id FROM movies ORDER BY movie_id")).scalars())
        values = features_for(conn, model.spec, ids).values
    engine.dispose()
    drop_database(args.server, name)

    with tempfile.TemporaryDirectory() as tmp:
        pkl, onnx_file = Path(tmp) / "kmeans_model.pkl", Path(tmp) / "kmeans_model.onnx"
        pkl.write_bytes(joblib_blob)
        onnx_file.write_bytes(onnx_blob)
        uncompressed = Path(tmp) / "uncompressed.pkl"
        joblib.dump(joblib.load(pkl), uncompressed)

        def ort_session() -> rt.InferenceSession:
            return rt.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])

        pipeline = joblib.load(pkl)
        session = ort_session()
        inp = session.get_inputs()[0].name
        one, big = values[:1], np.tile(values, (7, 1))[:62_000]
        assert (session.run(["label"], {inp: values})[0] == pipeline.predict(values)).all()
        r = args.repeat
        rows = {
            "joblib (compressed, as stored)": (
                pkl.stat().st_size,
                median_time(lambda: joblib.load(pkl), r),
                median_time(lambda: pipeline.predict(one), r),
                median_time(lambda: pipeline.predict(values), r),
                median_time(lambda: pipeline.predict(big), max(5, r // 5)),
            ),
            "joblib (uncompressed)": (
                uncompressed.stat().st_size,
                median_time(lambda: joblib.load(uncompressed), r),
                None,
                None,
                None,
            ),
            "ONNX (onnxruntime)": (
                onnx_file.stat().st_size,
                median_time(ort_session, r),
                median_time(lambda: session.run(["label"], {inp: one}), r),
                median_time(lambda: session.run(["label"], {inp: values}), r),
                median_time(lambda: session.run(["label"], {inp: big}), max(5, r // 5)),
            ),
            "stored centroids (numpy, what the API uses)": (
                None,
                None,
                median_time(lambda: model.nearest(one), r),
                median_time(lambda: model.nearest(values), r),
                median_time(lambda: model.nearest(big), max(5, r // 5)),
            ),
        }

    lines = [
        "| format | file size | load | predict 1 movie | predict 9,742 | predict 62,000 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, (size, load, p1, p9k, p62k) in rows.items():
        cells = [
            f"{size / 1024:.1f} KiB" if size else "-",
            *(ms(v) if v is not None else "-" for v in (load, p1, p9k, p62k)),
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    body = (
        f"`benchmarks/model_storage.py`, model = the default recluster model (k=10, zscore, "
        f"{values.shape[1]} features) trained on ml-latest-small; medians of {r} runs; machine: {machine}. "
        "Both stored formats give identical labels (checked in the run and in tests).\n\n"
        + "\n".join(lines)
        + "\n\n"
        + RECOMMENDATION
    )
    print(body)
    if not args.no_write:
        write_section("Model storage: joblib vs ONNX", body)


RECOMMENDATION = """**Recommendation for the data team.** Keep both, for different readers. Files are tiny
either way (a k-means model is k centroids plus the scaler), and load and predict times are
milliseconds for both (joblib loads faster; ONNX predicts one movie much faster, without
scikit-learn's per-call input validation), so speed does not decide either. Use the
**joblib** file for Python/scikit-learn work: it is the team's `kmeans_model.pkl`, one
`joblib.load(f).predict(features)`, but it unpickles code, so only load files you produced, and it
ties the reader to compatible scikit-learn/numpy versions. Use **ONNX** for anything outside this
Python environment (another language, another scikit-learn version, a service that must not
unpickle): onnxruntime loads it safely and gives the same labels (double-precision input). The
API itself needs neither: it places new movies from the stored centroids and scaler parameters
(`scheduler.placement`), which is the fastest path for one movie and involves no deserialisation."""


if __name__ == "__main__":
    main()
