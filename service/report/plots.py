"""The report's four charts: two from the API's plot module, two drawn here in the same style."""

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from service import plots
from service.report.data import ReportData

MAX_HEATMAP_GENRES = 20


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def avg_rating_png(data: ReportData) -> bytes:
    """Mean rating of each cluster's movies (over all their ratings), with the overall mean."""
    fig = Figure(figsize=(8, 4.5), layout="tight")
    ax = fig.subplots()
    rated = [(part, part.avg_rating) for part in data.clusters if part.avg_rating is not None]
    ax.bar([str(p.cluster) for p, _ in rated], [average for _, average in rated], color="tab:orange")
    total = sum(p.rating_count for p, _ in rated)
    if total:
        overall = sum(average * p.rating_count for p, average in rated) / total
        ax.axhline(overall, color="grey", linestyle="--", linewidth=1, label=f"all ratings: {overall:.2f}")
        ax.legend(loc="upper left")
    ax.set_ylim(0, 5)
    ax.set_xlabel("Cluster")
    ax.set_ylabel("Average rating (stars)")
    ax.set_title(f"Average rating per cluster (model v{data.version})")
    return _png(fig)


def genre_heatmap_png(data: ReportData) -> bytes:
    """Share of each cluster's movies carrying each genre (the most common genres overall)."""
    genres = data.genres_by_frequency()[:MAX_HEATMAP_GENRES]
    shares = np.array([[part.share(genre) for genre in genres] for part in data.clusters])
    fig = Figure(
        figsize=(max(8, 0.5 * len(genres) + 2), max(4, 0.45 * len(data.clusters) + 1.5)), layout="tight"
    )
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(genres)), genres, rotation=60, ha="right")
    ax.set_yticks(range(len(data.clusters)), [str(part.cluster) for part in data.clusters])
    for (row, col), share in np.ndenumerate(shares):
        if share >= 0.05:
            ax.text(
                col,
                row,
                f"{share:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color="black" if share > 0.6 else "white",
            )
    fig.colorbar(image, ax=ax, label="share of the cluster's movies")
    ax.set_xlabel("Genre")
    ax.set_ylabel("Cluster")
    ax.set_title(f"Genre share per cluster (model v{data.version})")
    return _png(fig)


def all_plots(data: ReportData) -> dict[str, tuple[str, bytes]]:
    """file name -> (caption, PNG bytes)."""
    sizes = [(part.cluster, part.size) for part in data.clusters]
    return {
        "cluster_sizes.png": ("Movies per cluster", plots.distribution_png(sizes, data.version)),
        "cluster_scatter.png": (
            "Movies in two dimensions (PCA of the features), coloured by cluster",
            plots.scatter_png(data.sample, data.version),
        ),
        "cluster_avg_rating.png": ("Average rating per cluster", avg_rating_png(data)),
        "genre_heatmap.png": ("Genre share per cluster", genre_heatmap_png(data)),
    }
