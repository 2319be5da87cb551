"""The Spark session of a recluster run, where executors find PostgreSQL, and Spark's errors in one line.

One session per process at a time (Spark allows one SparkContext per JVM): a run asking for
another master, or other settings, stops the old session first. Imports pyspark: only the Spark
engine imports this module.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from py4j.protocol import Py4JError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession
from sqlalchemy.engine import make_url

from cinecluster.db import libpq_url
from cinecluster.errors import UserError
from cinecluster.settings import Settings

JDBC_DRIVER = "org.postgresql.Driver"
APP_NAME = "cinecluster-recluster"
# what the executors' connections keep of a URL's query (JDBC and libpq spell them alike)
SSL_PARAMETERS = ("sslmode", "sslrootcert")

_current: tuple[SparkSession, tuple[object, ...]] | None = None
# the executors' Python unless spark.pyspark.python says otherwise: as this process was started
_PYTHON = os.environ.get("PYSPARK_PYTHON", sys.executable)


class SparkEngineError(UserError):
    """A Spark job, the session or a JDBC read failed: the cluster, its reach to PostgreSQL or
    its Python environment is to fix, so one line (the run's reason), no traceback."""

    exit_code = 1


_NOISE = ("at ", "Traceback", "An error occurred while calling", "An exception was thrown from", "SQLSTATE")


def one_line(error: BaseException) -> str:
    """The first informative line of a Spark, Py4J or JVM error (they carry whole stack traces:
    JVM frames, and a Python worker's traceback whose last line is the one that says why)."""
    java = getattr(error, "java_exception", None)
    texts = [str(error)]
    depth = 0
    while java is not None and depth < 20:  # the root cause says why ("awaitResult" does not)
        texts.append(str(java.toString()))
        java, depth = java.getCause(), depth + 1
    for text in reversed(texts):
        lines = [line.rstrip() for line in text.splitlines()]
        kept = [x for x in lines if x.strip() and not x[0].isspace() and not x.startswith(_NOISE)]
        if kept:  # "SomeException:" alone says little: join it with what follows
            line = kept[0] if not kept[0].endswith(":") else " ".join(kept[:2])
            return line[:400]
    return type(error).__name__


@contextmanager
def spark_errors(what: str) -> Iterator[None]:
    """Turn a failure inside Spark into SparkEngineError('<what>: <first line>')."""
    try:
        yield
    except (Py4JError, PySparkException, ConnectionError) as error:
        raise SparkEngineError(f"Spark {what} failed: {one_line(error)}") from error


def jdbc_target(database_url: str, override: str | None) -> tuple[str, dict[str, str]]:
    """(JDBC URL, connection properties) executors read PostgreSQL with; the password stays out
    of the URL (it would show in Spark's UI and logs)."""
    url = make_url(database_url)
    properties = {"driver": JDBC_DRIVER}
    if url.username:
        properties["user"] = url.username
    if url.password:
        properties["password"] = str(url.password)
    if override:
        return override, properties
    host = url.host or str(url.query.get("host", ""))
    if not host or host.startswith("/"):
        raise UserError(
            "the Spark engine reads PostgreSQL over TCP (JDBC), but DATABASE_URL names a Unix socket;"
            " set CINECLUSTER_SPARK_JDBC_URL (e.g. jdbc:postgresql://db-host:5432/cinecluster)"
        )
    ssl = {k: str(v) for k, v in url.query.items() if k in SSL_PARAMETERS}
    query = "?" + "&".join(f"{k}={v}" for k, v in ssl.items()) if ssl else ""
    return f"jdbc:postgresql://{host}:{url.port or 5432}/{url.database or ''}{query}", properties


def executor_database_url(database_url: str, jdbc_override: str | None) -> str:
    """The libpq URL executors write the stored rankings with: the server they read from (the
    JDBC URL's host, port, database and SSL mode when CINECLUSTER_SPARK_JDBC_URL is set), with
    DATABASE_URL's user and password."""
    url = make_url(libpq_url(database_url))
    if not jdbc_override:
        return url.render_as_string(hide_password=False)
    if not jdbc_override.startswith("jdbc:postgresql:"):
        raise UserError(
            f"CINECLUSTER_SPARK_JDBC_URL must start with jdbc:postgresql://, not {jdbc_override!r}"
        )
    target = make_url(jdbc_override.removeprefix("jdbc:"))
    ssl = {k: v for k, v in target.query.items() if k in SSL_PARAMETERS}
    return url.set(host=target.host, port=target.port, database=target.database, query=ssl).render_as_string(
        hide_password=False
    )


def session_conf(settings: Settings) -> dict[str, str]:
    """Our defaults, then CINECLUSTER_SPARK_CONF over them."""
    jar = settings.spark_jdbc_jar
    if not jar.is_file():
        raise UserError(
            f"PostgreSQL JDBC driver not found at {jar}: apt-get install libpostgresql-jdbc-java"
            " or set CINECLUSTER_SPARK_JDBC_JAR"
        )
    return {
        "spark.app.name": APP_NAME,
        "spark.jars": str(jar),  # shipped to the executors by the driver
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Spark's default of 200 shuffle partitions is for big clusters: one per read slice here
        "spark.sql.shuffle.partitions": str(settings.spark_partitions),
        # executors run this package's numpy functions: by default the driver's interpreter
        # (same machine, or an image with the same environment; spark.pyspark.python overrides)
        "spark.pyspark.python": _PYTHON,
        **settings.spark_conf,
    }


def get_session(master: str, settings: Settings) -> SparkSession:
    """The process's session for `master` and the settings' conf, started if needed."""
    global _current
    conf = session_conf(settings)
    key = (master, tuple(sorted(conf.items())))
    if _current is not None:
        session, started_with = _current
        if started_with == key and not session.sparkContext._jsc.sc().isStopped():
            return session
        stop_session()
    # pyspark hands PYSPARK_PYTHON (not the conf) to the executors as their Python: this
    # interpreter by default, which has this package, numpy and pyarrow
    os.environ["PYSPARK_PYTHON"] = conf["spark.pyspark.python"]
    with spark_errors("session start"):
        builder = SparkSession.builder.master(master)
        for name, value in conf.items():
            builder = builder.config(name, value)
        session = builder.getOrCreate()
    _current = (session, key)
    return session


def stop_session() -> None:
    """Stop the process's session (a standalone or YARN cluster gets its executors back)."""
    global _current
    if _current is None:
        return
    session, _ = _current
    _current = None
    with suppress(Py4JError, PySparkException, ConnectionError):  # already gone with its JVM
        session.stop()
