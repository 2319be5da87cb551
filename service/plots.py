"""PNG charts of the active model, drawn with matplotlib's Agg backend (no display needed).

`cinecluster report` draws them in its own process; the API in a child process
(service/chart_process.py), so that matplotlib never stays in an API worker.
"""

import io
import json
import sys
from typing import Any

import numpy as np

# Figure + the Agg canvas directly, not pyplot: pyplot's global state is not thread-safe and
# routes run in a threadpool. matplotlib is imported on the first plot (~40 MB the hot
# endpoints never need).


def _figure(**kwargs: Any) -> Any:
    from matplotlib.figure import Figure

    return Figure(layout="tight", **kwargs)


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def distribution_png(sizes: list[tuple[int, int]], version: int) -> bytes:
    """The team's plot_cluster_distribution: movies per cluster."""
    fig = _figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.bar([str(c) for c, _ in sizes], [n for _, n in sizes], color="tab:blue")
    ax.set_xlabel("Cluster")
    ax.set_ylabel("Movies")
    ax.set_title(f"Movies per cluster (model v{version})")
    return _png(fig)


def scatter_png(sample: list[tuple[int, float, int, list[int]]], version: int) -> bytes:
    """Movies in 2-D: PCA of the team's features (avg rating, rating count, genres), z-scored."""
    fig = _figure(figsize=(8, 6))
    ax = fig.subplots()
    if len(sample) >= 3:
        clusters = np.array([s[0] for s in sample])
        x = np.array([[s[1], s[2], *s[3]] for s in sample], dtype=np.float64)
        std = x.std(axis=0)
        z = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
        _, _, vt = np.linalg.svd(z, full_matrices=False)
        xy = z @ vt[:2].T
        points = ax.scatter(xy[:, 0], xy[:, 1], c=clusters, cmap="tab10", s=6, alpha=0.7)
        ax.legend(*points.legend_elements(), title="Cluster", loc="best", fontsize="small")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(f"Movies by cluster, PCA of features (model v{version}, {len(sample)} movies)")
    return _png(fig)


def draw(kind: str, version: int, data: Any) -> bytes:
    """The chart `kind` of `data` as the routes pass it (JSON-shaped lists)."""
    if kind == "distribution":
        return distribution_png([(int(c), int(n)) for c, n in data], version)
    if kind == "scatter":
        return scatter_png([(int(c), float(a), int(n), list(g)) for c, a, n, g in data], version)
    raise ValueError(f"unknown chart {kind!r}")


def main() -> None:
    """`python -m service.plots KIND VERSION`: the JSON data on stdin, the PNG on stdout (the
    API's charts are drawn in such a child process: service/chart_process.py)."""
    kind, version = sys.argv[1], int(sys.argv[2])
    sys.stdout.buffer.write(draw(kind, version, json.load(sys.stdin)))


if __name__ == "__main__":
    main()
