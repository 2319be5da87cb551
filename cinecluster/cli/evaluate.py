"""`cinecluster evaluate`: offline evaluation of every recommendation strategy, side by side."""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from cinecluster.cli.app import app
from cinecluster.cli.model_flags import model_flag
from cinecluster.errors import UserError
from cinecluster.settings import DEFAULT_SAMPLE_DATA, get_settings
from scheduler.options import ReclusterOptions

if TYPE_CHECKING:  # the evaluation's imports are heavy; the command imports them when it runs
    from evaluation.run import Report


def _table(report: "object", relevance: str, movies: bool = False) -> Table:
    from evaluation.run import Report

    assert isinstance(report, Report)
    k = report.k
    title = "rating >= 4" if relevance == "rating>=4" else "rating (any)"
    what = "similar movies of the user's latest liked movie" if movies else "user lists"
    table = Table(title=f"{what}; relevant = held-out {title}")
    for column in ("strategy", f"NDCG@{k}", f"P@{k}", f"R@{k}", f"HR@{k}", "coverage", "users", "time s"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in report.movie_rows if movies else report.rows:
        values = row.results[relevance]

        def cell(metric: str, values: dict[str, tuple[float, float]] = values, seeds: int = row.seeds) -> str:
            mean, std = values[metric]
            return f"{mean:.4f} ± {std:.4f}" if seeds > 1 else f"{mean:.4f}"

        table.add_row(
            row.name,
            cell("ndcg"),
            cell("precision"),
            cell("recall"),
            cell("hit_rate"),
            cell("coverage"),
            str(row.users[relevance]),
            f"{row.seconds:.1f}",
        )
    return table


def _sweep_table(report: "object") -> Table:
    from evaluation.run import Report
    from evaluation.sweep import is_default

    assert isinstance(report, Report)
    table = Table(title="item model sweep (default strategy; relevant = held-out rating >= 4), * = default")
    for column in ("option", "value", f"NDCG@{report.k}", "coverage", "likes inside the solve", "fit s"):
        table.add_column(column, justify="left" if column == "option" else "right")
    for p in report.sweep:
        table.add_row(
            "--" + p.option.replace("_", "-"),
            f"{p.value:g}{' *' if is_default(p) else ''}",
            f"{p.ndcg:.4f}",
            f"{p.coverage:.4f}",
            f"{p.liked_share:.1%}",
            f"{p.seconds:.2f}",
        )
    return table


@app.command("evaluate")
def evaluate(
    data: Path = typer.Option(
        DEFAULT_SAMPLE_DATA, "--data", help="Directory with movies.csv and ratings.csv.", file_okay=False
    ),
    protocol: str = typer.Option(
        "temporal",
        "--protocol",
        help="Holdout split: temporal (each user's latest --holdout share), random (a seeded random"
        " --holdout share of all ratings), last5 (each user's last 5 ratings), or all (the three,"
        " then one comparison table).",
    ),
    holdout: float = typer.Option(
        0.2, "--holdout", help="Share held out: of each user's latest ratings (temporal), of all (random)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random protocol's split."),
    k: int = typer.Option(10, "--k", help="List length (metrics @k)."),
    # the recluster run's own options (scheduler/options.py): defaults and help from there
    clusters: int = model_flag(ReclusterOptions, "k", "--clusters", help="The recluster run's --k."),
    log_count: bool = model_flag(ReclusterOptions, "log_count"),
    bayes_avg: bool = model_flag(ReclusterOptions, "bayes_avg"),
    year: bool = model_flag(ReclusterOptions, "year"),
    with_sweep: bool = typer.Option(
        False, "--sweep", help="Also sweep the item model's options (λ, movies, k): one recluster per point."
    ),
    with_variants: bool = typer.Option(
        False,
        "--variants",
        help="Also rank with the default ranking's parts and weights changed (the previous default,"
        " the recency profile, DLAE, the next movie; sweeps of the blend weight, half-life, decay and"
        " DLAE's p), in numpy with the production code, after the same recluster.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Holdout evaluation of every strategy through the API's own ranking code.

    Creates a scratch database on the DATABASE_URL server (dropped at the end), loads the
    training split with the real loader, reclusters with the real job, and prints
    Precision/Recall/NDCG/HitRate@k and coverage per strategy. Protocols: docs/evaluation.md.
    """
    from evaluation.protocols import CHOICES

    if protocol not in CHOICES:
        raise UserError(f"--protocol must be one of {', '.join(CHOICES)}, got {protocol!r}")
    if seed < 0:
        raise UserError(f"--seed must be non-negative, got {seed}")
    if not 0.0 < holdout < 1.0:
        raise UserError(f"--holdout must be between 0 and 1 (exclusive), got {holdout}")
    if not 1 <= k <= 100:
        raise UserError(f"--k must be 1..100, got {k}")
    if clusters < 2:
        raise UserError(f"--clusters must be at least 2, got {clusters}")
    if not (data / "ratings.csv").is_file() and not (data / "cleaned_ratings.csv").is_file():
        raise UserError(f"no ratings.csv in {data}")
    from sqlalchemy.exc import OperationalError

    from evaluation.protocols import chosen, comparison, evaluate_protocols
    from evaluation.variants import comparison as variants_comparison
    from scheduler.features import FeatureOptions

    url = get_settings().require_database_url()

    def progress(message: str) -> None:
        print(f"evaluate: {message}", file=sys.stderr, flush=True)

    try:
        options = FeatureOptions(log_count=log_count, bayes_avg=bayes_avg, year=year)
        reports = evaluate_protocols(
            url,
            data,
            chosen(protocol),
            progress,
            holdout=holdout,
            k=k,
            seed=seed,
            clusters=clusters,
            features=options,
            with_sweep=with_sweep,
            with_variants=with_variants,
        )
    except OperationalError as error:
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise UserError(f"database error: {first_line}") from None
    several = len(reports) > 1
    if as_json:
        if not several:
            typer.echo(json.dumps(reports[0].as_dict(), indent=2))
            return
        everything = {
            "protocols": [report.protocol for report in reports],
            "reports": {report.protocol: report.as_dict() for report in reports},
            "comparison": comparison(reports),
            **({"variants_comparison": variants_comparison(reports)} if with_variants else {}),
        }
        typer.echo(json.dumps(everything, indent=2))
        return
    console = Console(width=140)
    for report in reports:
        if several:
            console.rule(f"protocol {report.protocol}")
        console.print(
            f"{report.users} users, {report.train_ratings} training / {report.test_ratings} held-out ratings,"
            f" catalogue {report.catalogue} movies, {_split_text(report)}, k={report.k};"
            f" recluster --k {report.clusters} {report.features or '(team features)'};"
            f" recluster {report.recluster_seconds:.1f} s, total {report.seconds:.1f} s"
        )
        console.print(_table(report, "rating>=4"))
        console.print(_table(report, "any"))
        console.print(_table(report, "rating>=4", movies=True))
        if report.variants:
            console.print(_variants_table(report))
        if report.sweep:
            console.print(_sweep_table(report))
    if several:
        console.rule("all protocols")
        console.print(_comparison_table(reports))
        if with_variants:
            console.print(_variants_comparison_table(reports))


def _split_text(report: "Report") -> str:
    from ranking.split import LAST_N

    if report.protocol == "random":
        return f"random holdout {report.holdout} of all ratings (seed {report.seed})"
    if report.protocol == "last5":
        return f"each user's last {LAST_N} ratings held out"
    return f"holdout {report.holdout}"  # temporal: the line as it always was


def _comparison_table(reports: "list[Report]") -> Table:
    from evaluation.protocols import comparison

    k = reports[0].k
    table = Table(title=f"user lists per protocol: NDCG@{k} (relevant = held-out rating >= 4) and coverage")
    table.add_column("strategy")
    for report in reports:
        table.add_column(f"{report.protocol} NDCG@{k}", justify="right")
        table.add_column(f"{report.protocol} coverage", justify="right")
    for entry in comparison(reports):
        cells = [entry["strategy"]]
        for report in reports:
            ndcg, cover = entry[report.protocol]["ndcg"], entry[report.protocol]["coverage"]
            spread = f" ± {ndcg['std']:.4f}" if entry["seeds"] > 1 else ""
            cells += [f"{ndcg['mean']:.4f}{spread}", f"{cover['mean']:.4f}"]
        table.add_row(*cells)
    return table


def _variants_table(report: "Report") -> Table:
    k = report.k
    table = Table(
        title="variants of the default ranking, ranked in numpy by the production code; relevant = held-out"
        " rating >= 4; * = the default's value"
    )
    for column in ("variant", f"NDCG@{k}", f"P@{k}", f"R@{k}", f"HR@{k}", "coverage", "users", "time s"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    group = None
    for entry in report.variants:
        if group is not None and entry.variant.group != group:
            table.add_section()
        group = entry.variant.group
        values = entry.row.results["rating>=4"]
        table.add_row(
            entry.variant.name,
            *(
                f"{values[metric][0]:.4f}"
                for metric in ("ndcg", "precision", "recall", "hit_rate", "coverage")
            ),
            str(entry.row.users["rating>=4"]),
            f"{entry.row.seconds:.1f}",
        )
    return table


def _variants_comparison_table(reports: "list[Report]") -> Table:
    from evaluation.variants import comparison

    k = reports[0].k
    table = Table(title=f"variants per protocol: NDCG@{k} (relevant = held-out rating >= 4)")
    table.add_column("variant")
    for report in reports:
        table.add_column(report.protocol, justify="right")
    group = None
    for entry in comparison(reports):
        if group is not None and entry["group"] != group:
            table.add_section()
        group = entry["group"]
        table.add_row(entry["variant"], *(f"{entry[report.protocol]['ndcg']:.4f}" for report in reports))
    return table
