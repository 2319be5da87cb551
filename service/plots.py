"""PNG charts of the active model, drawn with matplotlib's Agg backend (no display needed)."""

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Figure + the Agg canvas directly, not pyplot: pyplot's global state is not thread-safe and
# routes run in a threadpool.


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def distribution_png(sizes: list[tuple[int, int]], version: int) -> bytes:
    """The team's plot_cluster_distribution: movies per cluster."""
    fig = Figure(figsize=(8, 4.5), layout="tight")
    ax = fig.subplots()
    ax.bar([str(c) for c, _ in sizes], [n for _, n in sizes], color="tab:blue")
    ax.set_xlabel("Cluster")
    ax.set_ylabel("Movies")
    ax.set_title(f"Movies per cluster (model v{version})")
    return _png(fig)


def scatter_png(sample: list[tuple[int, float, int, list[int]]], version: int) -> bytes:
    """Movies in 2-D: PCA of the team's features (avg rating, rating count, genres), z-scored."""
    fig = Figure(figsize=(8, 6), layout="tight")
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
