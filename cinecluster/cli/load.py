"""`cinecluster load`: MovieLens CSV files into PostgreSQL, validated, in one transaction."""

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from cinecluster.cli.app import app
from cinecluster.cli.common import cli_engine
from cinecluster.errors import UserError
from loaders.files import locate
from loaders.load import load_files
from loaders.move import Mode
from loaders.report import print_json, print_table


def _option(kind: str) -> Path | None:
    return typer.Option(None, f"--{kind}", help=f"The {kind} file (overrides DIR).", dir_okay=False)


@app.command("load")
def load(
    directory: Path | None = typer.Argument(
        None,
        help="Directory with movies.csv, ratings.csv, tags.csv, links.csv (or the cleaned_*.csv files).",
        file_okay=False,
    ),
    movies: Path | None = _option("movies"),
    ratings: Path | None = _option("ratings"),
    tags: Path | None = _option("tags"),
    links: Path | None = _option("links"),
    mode: str = typer.Option(
        "replace", "--mode", help="replace: tables hold exactly the files' rows; append: upsert."
    ),
    strict: bool = typer.Option(False, "--strict", help="Any rejected row fails the load (exit 1)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Load MovieLens CSV files: COPY into staging, clean and validate in SQL, one transaction.

    Exit codes: 0 loaded; 1 rows rejected under --strict (nothing loaded); 2 bad input
    (missing or malformed file, standardized ratings; nothing loaded).
    """
    if mode not in ("replace", "append"):
        raise UserError(f"--mode must be replace or append, not {mode!r}")
    files = locate(directory, {"movies": movies, "ratings": ratings, "tags": tags, "links": links})
    total = sum(path.stat().st_size for path in files.values())
    loading_mode: Mode = "replace" if mode == "replace" else "append"
    with cli_engine("loader") as engine:
        if sys.stderr.isatty():
            columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task("load", total=total)
                summary = load_files(engine, files, loading_mode, strict, lambda n: progress.advance(task, n))
        else:
            summary = load_files(engine, files, loading_mode, strict)
    if as_json:
        print_json(summary)
    else:
        print_table(summary, Console(width=160))
    if not summary.committed:
        raise UserError(
            f"{summary.rejected_count} rows rejected and --strict given: nothing loaded", exit_code=1
        )


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Directory to write movies.csv, ratings.csv, tags.csv into."),
    users: int = typer.Option(162_000, "--users", help="Number of users."),
    movies: int = typer.Option(62_000, "--movies", help="Number of movies."),
    ratings: int = typer.Option(25_000_000, "--ratings", help="Number of ratings (exact)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same arguments and seed, same files."),
) -> None:
    """Write synthetic MovieLens-format files (Zipf popularity, users with genre tastes)."""
    from loaders.synth import synthesize  # numpy work: imported only for this command

    summary = synthesize(out, users, movies, ratings, seed)
    typer.echo(
        f"wrote {summary.movies:,} movies, {summary.ratings:,} ratings by {summary.users:,} users "
        f"and {summary.tags:,} tags to {summary.out}"
    )
