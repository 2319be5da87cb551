"""Compose the report (blocks) from the data and write the files."""

from pathlib import Path
from typing import Any

from service.report.data import ReportData
from service.report.document import Block, Heading, Image, Para, Table, to_html, to_markdown
from service.report.plots import all_plots

TOP_GENRES = 5
METRIC_NAMES = {
    "inertia": "inertia (sum of squared distances to centroids; lower is tighter)",
    "silhouette": "silhouette, sampled (-1..1; higher is better separated)",
    "davies_bouldin": "Davies-Bouldin (lower is better separated)",
}


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


def _rating(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _top_genres(part_genres: list[tuple[str, int]], size: int) -> str:
    return ", ".join(f"{genre} {movies / size:.0%}" for genre, movies in part_genres[:TOP_GENRES]) or "-"


def _model_blocks(data: ReportData) -> list[Block]:
    model = data.model
    params = model.get("params") or {}
    counts = model.get("dataCounts") or {}
    features = model.get("featureNames") or []
    rows = [
        ["algorithm", str(model.get("algorithm"))],
        ["parameters", ", ".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, dict | list))],
        ["features", f"{len(features)}: " + ", ".join(features)],
        ["trained on", ", ".join(f"{_number(v)} {k}" for k, v in counts.items())],
        ["created", str(model.get("createdAt"))],
    ]
    metrics = model.get("metrics") or {}
    metric_rows = [
        [METRIC_NAMES.get(name, name), _number(value)]
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return [
        Heading(2, "Model"),
        Table(["property", "value"], rows),
        Heading(3, "Metrics"),
        Table(["metric", "value"], metric_rows, numeric=frozenset({1})),
    ]


def report_blocks(data: ReportData, plot_captions: dict[str, str]) -> list[Block]:
    total = sum(part.size for part in data.clusters)
    blocks: list[Block] = [
        Heading(1, f"cinecluster report: model version {data.version}"),
        Para(
            f"Generated {data.generated_at:%Y-%m-%d %H:%M} UTC from the active model: "
            f"{len(data.clusters)} clusters over {total:,} movies."
        ),
        *_model_blocks(data),
        Heading(2, "Clusters"),
        Para("Average rating: the mean of every rating given to the cluster's movies."),
        Table(
            [
                "cluster",
                "movies",
                "share",
                "avg rating",
                "ratings",
                f"top {TOP_GENRES} genres (share of movies)",
            ],
            [
                [
                    str(part.cluster),
                    f"{part.size:,}",
                    f"{part.size / total:.1%}" if total else "-",
                    _rating(part.avg_rating),
                    f"{part.rating_count:,}",
                    _top_genres(part.genres, part.size),
                ]
                for part in data.clusters
            ],
            numeric=frozenset({0, 1, 2, 3, 4}),
        ),
        Heading(2, "Plots"),
        *(Image(file, caption) for file, caption in plot_captions.items()),
    ]
    for part in data.clusters:
        blocks += [
            Heading(2, f"Cluster {part.cluster}"),
            Para(
                f"{part.size:,} movies, average rating {_rating(part.avg_rating)} over "
                f"{part.rating_count:,} ratings. Top genres: {_top_genres(part.genres, part.size)}."
            ),
            Table(
                ["most rated movies", "genres", "avg rating", "ratings"],
                [
                    [m.title, ", ".join(m.genres) or "-", _rating(m.avg_rating), f"{m.rating_count:,}"]
                    for m in part.top_movies
                ],
                numeric=frozenset({2, 3}),
            ),
        ]
    return blocks


def write_report(data: ReportData, out: Path) -> list[Path]:
    """PNGs, report.md (linking them) and report.html (embedding them) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    plots = all_plots(data)
    written = []
    for file, (_, png) in plots.items():
        (out / file).write_bytes(png)
        written.append(out / file)
    blocks = report_blocks(data, {file: caption for file, (caption, _) in plots.items()})
    title = f"cinecluster report: model version {data.version}"
    (out / "report.md").write_text(to_markdown(blocks), encoding="utf-8")
    (out / "report.html").write_text(
        to_html(blocks, {file: png for file, (_, png) in plots.items()}, title), encoding="utf-8"
    )
    return [*written, out / "report.md", out / "report.html"]
