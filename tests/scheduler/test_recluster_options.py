"""One options model for the CLI's flags, the API body, the stored run and the stored version;
mistakes read like the CLI's flags."""

import pytest
import typer
from pydantic import Field
from typer.testing import CliRunner

from cinecluster.cli import app as cli_app
from cinecluster.cli.model_flags import flag_name, model_flags
from cinecluster.errors import UserError
from scheduler.clustering import SCALERS
from scheduler.options import ReclusterOptions, Scaler, options_from


def test_camel_and_snake_case_both_accepted_and_stored_in_full() -> None:
    options = ReclusterOptions.model_validate({"batchSize": 50, "log_count": True})
    assert options.stored() == {
        "k": 10,
        "batch_size": 50,
        "seed": 42,
        "scaler": "zscore",
        "log_count": True,
        "bayes_avg": False,
        "year": False,
        "ease_lambda": 200.0,
        "ease_movies": 3000,
        "ease_k": 200,
        "ease_model": "dlae",
        "ease_dropout": 0.2,
        "engine": None,
    }
    assert options_from(options.stored()) == options


def test_the_scalers_are_the_job_s_scalers() -> None:
    assert set(Scaler.__args__) == set(SCALERS)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"k": 1}, "--k must be at least 2, got 1"),
        ({"batch_size": 0}, "--batch-size must be positive, got 0"),
        ({"k": 5000}, "--k must be at most 1000, got 5000"),
        ({"scaler": "log"}, "--scaler must be one of 'zscore', 'minmax' or 'robust', got 'log'"),
        ({"lambda": 3}, "unknown option --lambda"),
        ({"ease_lambda": 0}, "--ease-lambda must be positive, got 0"),
        ({"easeMovies": 1}, "--ease-movies must be at least 2, got 1"),
        ({"ease_movies": 50_000}, "--ease-movies must be at most 15000, got 50000"),
        ({"ease_k": 0}, "--ease-k must be at least 1, got 0"),
        ({"engine": "dask"}, "--engine must be one of 'local' or 'spark', got 'dask'"),
    ],
)
def test_mistakes_are_one_line(values: dict, message: str) -> None:
    with pytest.raises(UserError) as error:
        options_from(values)
    assert str(error.value) == message


def test_the_engine_is_an_option_the_api_may_record() -> None:
    """The API only records it (the scheduler runs the job); the Spark master stays a setting."""
    assert ReclusterOptions.model_validate({"engine": "spark"}).stored()["engine"] == "spark"
    assert "spark_master" not in ReclusterOptions.model_fields


def test_every_option_is_a_recluster_flag_with_the_model_s_default_and_help() -> None:
    recluster = typer.main.get_command(cli_app).commands["recluster"]  # type: ignore[attr-defined]  # a group
    flags = {opt: p for p in recluster.params for opt in p.opts}
    for name, field in ReclusterOptions.model_fields.items():
        flag = flags[flag_name(name)]
        assert flag.default == field.default, name
        assert field.description and field.description in flag.help, name
    derived = {flag_name(name) for name in ReclusterOptions.model_fields}
    assert set(flags) - derived == {"--spark-master", "--json"}  # the command's own


class WithDropout(ReclusterOptions):
    """An item-model option added the way the docs say: one field."""

    dlae_dropout: float = Field(0.25, ge=0, lt=1, description="DLAE dropout p.")


def test_an_option_added_to_the_model_is_a_flag_validated_by_the_model() -> None:
    app = typer.Typer()
    received: list[WithDropout] = []

    @app.command()
    @model_flags(WithDropout, WithDropout.model_validate)
    def run(options: WithDropout, verbose: bool = typer.Option(False, "--verbose")) -> None:
        received.append(options)

    runner = CliRunner()
    assert runner.invoke(app, ["--dlae-dropout", "0.5", "--k", "7"]).exit_code == 0
    assert (received[-1].dlae_dropout, received[-1].k, received[-1].ease_k) == (0.5, 7, 200)
    assert runner.invoke(app, []).exit_code == 0 and received[-1].dlae_dropout == 0.25
    flags = {opt: p for p in typer.main.get_command(app).params for opt in p.opts}
    assert flags["--dlae-dropout"].help == "DLAE dropout p. [>=0, <1]"  # type: ignore[attr-defined]  # an option
    refused = runner.invoke(app, ["--dlae-dropout", "1"])
    assert refused.exit_code != 0 and "less than 1" in str(refused.exception)
    assert WithDropout(dlae_dropout=0.5).stored()["dlae_dropout"] == 0.5  # stored with the run and version
