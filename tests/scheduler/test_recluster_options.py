"""One options model for the CLI, the API body and the stored run; mistakes read like the CLI's flags."""

import pytest

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
