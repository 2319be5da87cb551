"""The one settings class: every process reads its configuration here, once."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SAMPLE_DATA = Path(__file__).resolve().parents[1].parent / "shared/datasets/ml-latest-small"


def normalize_database_url(url: str) -> str:
    """Accept postgresql:// and postgresql+psycopg:// URLs; SQLAlchemy gets the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise ValueError(
            f"DATABASE_URL must start with postgresql:// or postgresql+psycopg://, got {scheme!r}"
        )
    return f"postgresql+psycopg://{rest}"


class Settings(BaseSettings):
    """Configuration from the environment or a `.env` file in the working directory."""

    # env_ignore_empty: `VAR=` (as docker compose passes an unset `${VAR:-}`) means "not set".
    model_config = SettingsConfigDict(
        env_prefix="CINECLUSTER_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "CINECLUSTER_DATABASE_URL"),
        description="PostgreSQL URL; unset means `cinecluster demo` starts an embedded server.",
    )
    admin_token: str | None = Field(
        default=None, description="Bearer token for write endpoints; unset closes them (403)."
    )
    recluster_cron: str = Field(
        default="0 3 * * mon", description="Crontab (UTC) of the weekly recluster run."
    )
    # scheduler process: requested runs are picked up on NOTIFY, else within scheduler_poll_s
    scheduler_poll_s: float = Field(
        default=5.0, gt=0, description="Seconds between the scheduler's checks for requested runs."
    )
    scheduler_heartbeat_s: float = Field(
        default=10.0, gt=0, description="Seconds between scheduler heartbeats (silent 3x as long = down)."
    )
    # the scheduler re-ranks users who rated since the run, woken by NOTIFY (scheduler/refresh.py)
    refresh_batch_users: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Users the scheduler re-ranks per refresh transaction after they rate.",
    )
    keep_versions: int = Field(default=5, ge=1, description="Model versions kept in the database.")
    sample_data: Path = Field(
        default=DEFAULT_SAMPLE_DATA, description="Directory of ml-latest-small, for tests/benchmarks."
    )
    dataset_url: str = Field(
        default="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        description="Where `cinecluster demo` downloads ml-latest-small when no --data is given.",
    )
    statement_timeout_ms: int = Field(
        default=5000, ge=0, description="API statement timeout, so a sick database fails fast."
    )
    # JIT pays off for long analytical queries; the API's are short, and at 25M ratings the live
    # ranking spent most of its time compiling (benchmarks/dashboard.py). The recluster keeps it.
    api_jit: bool = Field(
        default=False, description="PostgreSQL JIT compilation for the API's statements (`jit`)."
    )
    # How processes reach PostgreSQL. The API fails fast when the database is gone (503 at once,
    # not a hang): a refused connection fails at once, a black-holed server costs at most
    # api_connect_timeout_s, a server that vanished mid-query api_tcp_user_timeout_ms.
    connect_timeout_s: int = Field(
        default=5, ge=2, description="Seconds the CLI, loader and scheduler wait to connect to PostgreSQL."
    )
    api_connect_timeout_s: int = Field(
        default=2,
        ge=2,
        description="Seconds the API waits to connect before answering 503 (libpq's least: 2).",
    )
    api_pool_timeout_s: float = Field(
        default=5.0, gt=0, description="Seconds a request waits for a free pooled connection before 503."
    )
    api_tcp_user_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        description="Unacknowledged data for this long means the server is gone (TCP_USER_TIMEOUT;"
        " 0: the OS's).",
    )
    # Rotating connections spreads reconnects after a failover or behind a connection balancer, and
    # releases what a long-lived backend holds (prepared statements, caches).
    api_connection_max_lifetime_s: float = Field(
        default=3600.0, gt=0, description="Pooled API connections older than this are closed and replaced."
    )
    # Longer than clients keep idle connections (httpx and requests/urllib3 pools: 5 s or less;
    # nginx's upstream keepalive_timeout: 60 s): a server that closes first races the client's
    # next request on that connection, which then fails with a read error (uvicorn's default is 5 s).
    api_keep_alive_s: int = Field(
        default=75, ge=1, description="Seconds the API keeps an idle HTTP keep-alive connection open."
    )
    # More connections than the database has cores only add runnable backends: with PostgreSQL,
    # uvicorn and wrk on 2 cores, 8 per pool gave the hot routes a p99 of 60-72 ms and 4 gave
    # 12-31 ms at the same req/s (benchmarks/api.py, 25M ratings).
    api_pool_size: int = Field(
        default=4,
        ge=1,
        description="API database connections per pool; each worker has two (the async hot routes,"
        " the rest). About the database server's cores.",
    )

    recluster_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Threads for the in-process recluster's heaviest numpy steps (co-likes, the item"
        " model's Gram matrix, next-movie counts, stored rankings); 0: one per core this process may use.",
    )

    # The recluster's ratings-sized steps: in this process, or on Apache Spark (the `spark` extra;
    # docs/scaling.md). The API only records a run; the scheduler process honours these.
    recluster_engine: Literal["local", "spark"] = Field(
        default="local", description="Where the recluster's ratings-sized steps run: local or spark."
    )
    spark_master: str = Field(
        default="local[*]",
        description="Spark master URL (local[*], spark://host:7077, yarn, k8s://https://host:443).",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark settings as JSON, e.g. {"spark.executor.memory": "4g"}.',
    )
    spark_partitions: int = Field(
        default=8, ge=1, le=10_000, description="Slices the ratings are read from PostgreSQL in (JDBC)."
    )
    spark_keep_session: bool = Field(
        default=False,
        description="Keep the Spark session between runs: no start-up per run, but it holds the executors.",
    )
    spark_jdbc_jar: Path = Field(
        default=Path("/usr/share/java/postgresql.jar"),
        description="PostgreSQL JDBC driver jar (Debian: libpostgresql-jdbc-java), shipped to executors.",
    )
    spark_jdbc_url: str | None = Field(
        default=None,
        description="JDBC URL executors read PostgreSQL with (and write the stored rankings to its"
        " host, port and database); unset: derived from DATABASE_URL.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return normalize_database_url(value) if value else None

    def compute_threads(self) -> int:
        """recluster_threads, 0 resolved to the cores this process may run on."""
        return self.recluster_threads or len(os.sched_getaffinity(0))

    def require_database_url(self) -> str:
        from cinecluster.errors import UserError

        if not self.database_url:
            raise UserError("DATABASE_URL is not set (e.g. postgresql://user@host:5432/cinecluster)")
        return self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
