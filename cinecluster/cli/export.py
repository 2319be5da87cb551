"""`cinecluster export-recommendations`: every user's stored list, for batch jobs (e-mails)."""

import sys
from enum import StrEnum
from pathlib import Path

import typer

from cinecluster.cli.app import app
from cinecluster.cli.common import cli_engine
from cinecluster.errors import UserError


class ListFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@app.command("export-recommendations")
def export_recommendations(
    output: Path = typer.Option(..., "-o", "--output", help="File to write ('-' = stdout, CSV only)."),
    fmt: ListFormat | None = typer.Option(
        None,
        "--format",
        help="csv or parquet (needs pyarrow); default: parquet for a .parquet file, else csv.",
    ),
) -> None:
    """Write every user's stored recommendations of the active version: userId,rank,movieId,score,
    sourceMovieId,justRated, one row per item, read and written as a stream."""
    from scheduler.export_lists import active_or_error, parquet_available, write_csv, write_parquet

    chosen = fmt or (ListFormat.parquet if output.suffix.lower() == ".parquet" else ListFormat.csv)
    if chosen is ListFormat.parquet and not parquet_available():
        raise UserError("--format parquet needs pyarrow: pip install pyarrow (or write CSV)")
    if str(output) == "-" and chosen is ListFormat.parquet:
        raise UserError("parquet cannot go to stdout: give a file name")
    if str(output) != "-" and not output.parent.is_dir():
        raise UserError(f"directory {output.parent} does not exist")
    with cli_engine() as engine, engine.connect() as conn:
        active_or_error(conn)
        if str(output) == "-":
            write_csv(conn, sys.stdout.buffer)
            return
        if chosen is ListFormat.parquet:
            done = write_parquet(conn, output)
        else:
            with output.open("wb") as out:
                done = write_csv(conn, out)
    typer.echo(
        f"version {done.version}: {done.rows} recommendations of {done.users} users"
        f" written to {output} ({chosen.value})"
    )
