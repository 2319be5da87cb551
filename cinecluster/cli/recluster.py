"""`cinecluster recluster`, `model list|activate`, `export-model`, `export-clusters`, `scheduler`."""

import json
import logging
import sys
from datetime import UTC
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from cinecluster.cli.app import app
from cinecluster.cli.common import cli_engine
from cinecluster.cli.model_flags import model_flags
from cinecluster.cli.run_progress import step_display
from cinecluster.errors import UserError
from cinecluster.settings import get_settings
from scheduler.options import ReclusterOptions, options_from


class ModelFormat(StrEnum):
    joblib = "joblib"
    onnx = "onnx"


model_app = typer.Typer(help="Stored model versions.", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


@app.command("recluster")
@model_flags(ReclusterOptions, options_from)
def recluster(
    options: ReclusterOptions,
    spark_master: str | None = typer.Option(
        None, "--spark-master", help="Spark master URL (default: CINECLUSTER_SPARK_MASTER, local[*])."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recluster now: features in SQL, MiniBatchKMeans, write and activate a new model version.

    On a terminal each step is shown as it goes (stderr); the same step is recorded in
    recluster_runs, where `GET /admin/runs` shows it. The options are scheduler/options.py's
    (POST /admin/recluster takes the same); the version stores them all (`--json`: "params").
    """
    from scheduler.job import run_recluster

    if spark_master is not None and (options.engine or get_settings().recluster_engine) != "spark":
        raise UserError("--spark-master needs --engine spark (or CINECLUSTER_RECLUSTER_ENGINE=spark)")
    if (options.engine or get_settings().recluster_engine) == "spark":
        from scheduler.engines import require_pyspark

        require_pyspark()  # before the run is recorded: a one-line hint, not a failed run
    with cli_engine("scheduler") as db, step_display(sys.stderr.isatty()) as listeners:
        result = run_recluster(db, options, trigger="cli", listeners=listeners, spark_master=spark_master)
    metrics = result.metrics
    if as_json:
        payload = {
            "run_id": result.run_id,
            "version": result.version,
            "params": result.params,
            "metrics": metrics,
            "data_counts": result.data_counts,
            "pruned": result.pruned,
            "timings": result.timings,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    counts = result.data_counts
    typer.echo(
        f"version {result.version} active (run {result.run_id}): {options.k} clusters over "
        f"{counts['movies']} movies, {counts['ratings']} ratings"
    )
    typer.echo("cluster sizes: " + ", ".join(f"{c}:{n}" for c, n in enumerate(metrics["cluster_sizes"])))
    typer.echo(
        f"inertia {_round(metrics['inertia'])}, silhouette {_round(metrics['silhouette'])} "
        f"(sample {metrics.get('silhouette_sample')}), Davies-Bouldin {_round(metrics['davies_bouldin'])}"
    )
    model = metrics.get("item_model")
    if model:
        typer.echo(
            f"item model: EASE λ {model['lambda']:g} over the {model['movies']} most-liked movies"
            f" ({model['liked_share']:.0%} of the likes), {model['k']} weights each"
        )
    holdout = metrics.get("holdout")
    if holdout:
        typer.echo(f"holdout NDCG@10 {holdout['ndcg_at_10']} over {holdout['users']} users")
    if result.pruned:
        typer.echo("pruned versions: " + ", ".join(map(str, result.pruned)))


@model_app.command("list")
def model_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the kept model versions; * marks the active one."""
    from scheduler.versions import list_versions

    with cli_engine() as engine, engine.connect() as conn:
        versions = list_versions(conn)
    if as_json:
        rows = [
            {
                "version": v.version,
                "created_at": v.created_at.isoformat(),
                "active": v.active,
                "params": v.params,
                "metrics": v.metrics,
                "data_counts": v.data_counts,
                "joblib_size": v.joblib_size,
                "onnx_size": v.onnx_size,
            }
            for v in versions
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not versions:
        typer.echo("no model versions yet (run `cinecluster recluster`)")
        return
    typer.echo("  version  created (UTC)        k  scaler  silhouette  davies_bouldin  movies")
    for v in versions:
        mark = "*" if v.active else " "
        created = v.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(
            f"{mark} {v.version:>7}  {created}  {v.params['k']:>2}  {v.params['scaler']:<6}  "
            f"{_round(v.metrics.get('silhouette'))!s:>10}  {_round(v.metrics.get('davies_bouldin'))!s:>14}"
            f"  {v.data_counts.get('movies')}"
        )


@model_app.command("activate")
def model_activate(version: int = typer.Argument(..., help="Version to serve (e.g. to roll back).")) -> None:
    """Make VERSION the active model (the API and the views switch at once)."""
    from scheduler.versions import activate

    with cli_engine() as engine, engine.begin() as conn:
        activate(conn, version)
    typer.echo(f"version {version} active")


@app.command("export-model")
def export_model(
    output: Path = typer.Option(..., "-o", "--output", help="File to write."),
    version: int | None = typer.Option(None, "--version", help="Version (default: the active one)."),
    fmt: ModelFormat = typer.Option(ModelFormat.joblib, "--format", help="joblib (scikit-learn) or onnx."),
) -> None:
    """Write a stored model: joblib.load(f).predict(features) works like kmeans_model.pkl."""
    from scheduler.versions import model_bytes

    with cli_engine() as engine, engine.connect() as conn:
        number, data = model_bytes(conn, version, fmt.value)
    _write_file(output, data)
    typer.echo(f"version {number} written to {output} ({fmt.value}, {len(data)} bytes)")


@app.command("export-clusters")
def export_clusters(
    output: Path = typer.Option(
        Path("clusters_movies.csv"), "-o", "--output", help="CSV file ('-' = stdout)."
    ),
) -> None:
    """Write movieId,title,genres,cluster of the active version (the team's clusters_movies.csv)."""
    from scheduler.export import write_clusters_csv

    with cli_engine() as engine, engine.connect() as conn:
        if str(output) == "-":
            write_clusters_csv(conn, sys.stdout.buffer)
            return
        _check_parent(output)
        with output.open("wb") as out:
            write_clusters_csv(conn, out)
    typer.echo(f"clusters written to {output}")


@app.command("scheduler")
def scheduler_process(
    check: bool = typer.Option(
        False,
        "--check",
        help="Run nothing: exit 0 if a scheduler's heartbeat is fresh, else 1 (a healthcheck).",
    ),
) -> None:
    """Run the weekly recluster schedule (CINECLUSTER_RECLUSTER_CRON) and the runs requested over
    HTTP (POST /admin/recluster) until SIGTERM/SIGINT; a heartbeat shows it is alive."""
    if check:
        _check_scheduler()
        return
    from scheduler.schedule import cron_trigger, run_scheduler

    cron = get_settings().recluster_cron
    cron_trigger(cron)  # a bad crontab is a one-line error before connecting
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with cli_engine("scheduler") as engine:
        run_scheduler(engine, cron)


def _check_scheduler() -> None:
    from scheduler.heartbeat import latest

    with cli_engine() as engine, engine.connect() as conn:
        seen = latest(conn)
    if seen is None:
        raise UserError("no scheduler has ever run against this database", exit_code=1)
    ago = f"last seen {seen.age_s:.1f} s ago"
    if not seen.alive:
        state = "stopped" if seen.stopped_at else f"silent for over {3 * seen.interval_s:g} s"
        raise UserError(f"scheduler {seen.scheduler_id} is not running ({state}; {ago})", exit_code=1)
    next_run = seen.next_run_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if seen.next_run_at else "-"
    typer.echo(f"scheduler {seen.scheduler_id} running ({ago}); next scheduled run {next_run}")


def _check_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise UserError(f"directory {path.parent} does not exist")


def _write_file(path: Path, data: bytes) -> None:
    _check_parent(path)
    path.write_bytes(data)
