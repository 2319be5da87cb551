"""Loading ml-latest-small through the CLI gives exactly the MovieLens counts."""

from sqlalchemy import create_engine, text


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("movies", "links", "ratings", "tags")
        }
    engine.dispose()
    return counts


def test_cli_load_gives_exact_counts(run_cli, db_url, sample_data) -> None:
    result = run_cli("load", str(sample_data))
    assert result.exit_code == 0, result.stderr
    assert _counts(db_url) == {"movies": 9742, "links": 9742, "ratings": 100836, "tags": 3683}


def test_loaded_template_holds_the_sample(loaded_db_url) -> None:
    assert _counts(loaded_db_url) == {"movies": 9742, "links": 9742, "ratings": 100836, "tags": 3683}
