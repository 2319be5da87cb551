"""`cinecluster report --out DIR`: plots, report.md and report.html of the active model."""

from datetime import UTC, datetime
from pathlib import Path

import typer

from cinecluster.cli.app import app
from cinecluster.cli.common import cli_engine
from cinecluster.db import raw_connection
from cinecluster.errors import UserError


@app.command("report")
def report(
    out: Path = typer.Option(..., "--out", help="Folder to write into (created if missing)."),
) -> None:
    """Write the data team's report of the active model: four PNG plots, report.md, report.html."""
    from service.report.build import write_report
    from service.report.data import read_report_data

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    with cli_engine() as engine, engine.connect() as conn:
        # one snapshot: every number in the report comes from the same state of the database
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        data = read_report_data(raw_connection(conn), datetime.now(UTC))
    if data is None:
        raise UserError("no active model yet; run `cinecluster recluster` first")
    for path in write_report(data, out):
        typer.echo(path)
