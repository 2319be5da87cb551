"""The demo's steps before serving: a database, the schema, the data once, a model once.

Each step calls the subsystem that owns the work (loaders, scheduler); this module only
decides whether the step is needed.
"""

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import platformdirs
from sqlalchemy import Engine, func, select

from cinecluster import databases, demo_state, migrate
from cinecluster.activation import active_version
from cinecluster.dataset import DatasetError, fetch_sample
from cinecluster.db import libpq_url, make_engine
from cinecluster.errors import UserError
from cinecluster.settings import get_settings, normalize_database_url
from cinecluster.tables import cluster_centroids, movie_clusters, ratings

EMBEDDED_DATABASE = "cinecluster"
# --synthetic: small enough to load and cluster in seconds, big enough for clusters to mean something.
SYNTHETIC = {"users": 1_000, "movies": 3_000, "ratings": 100_000, "seed": 42}


def _user_dir(kind: str) -> Path:
    with warnings.catch_warnings():  # platformdirs may warn about an unset XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        return Path(getattr(platformdirs, f"user_{kind}_dir")("cinecluster"))


def database_url() -> tuple[str, str]:
    """(URL, how it was found): DATABASE_URL, else an embedded server under the user data dir.

    The chosen URL is exported as DATABASE_URL, so every subsystem in this process uses it.
    """
    configured = get_settings().database_url
    if configured:
        return configured, "DATABASE_URL"
    from cinecluster.embedded import DEFAULT_PGDATA, start_embedded

    server = normalize_database_url(start_embedded(DEFAULT_PGDATA))
    if not databases.exists(server, EMBEDDED_DATABASE):
        databases.create_database(server, EMBEDDED_DATABASE)
    url = databases.database_url(server, EMBEDDED_DATABASE)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return url, f"embedded PostgreSQL in {DEFAULT_PGDATA}"


def upgraded_engine(url: str) -> Engine:
    engine = make_engine("demo", url)
    migrate.upgrade(engine)
    return engine


def data_directory(data: Path | None, synthetic: bool, say: Callable[[str], None]) -> tuple[Path, str]:
    """The folder to load and a label for it: --data, synthetic files, or the downloaded sample.

    Without either option the sample is downloaded (once, checked, cached); when that fails the
    demo still runs, on synthetic data, and `say`s why in one line.
    """
    if data is not None:
        return data, str(data)
    if not synthetic:
        try:
            return fetch_sample(), "ml-latest-small (GroupLens)"
        except DatasetError as error:
            say(f"data     {error.problem}; using synthetic data instead (--data DIR loads your own files)")
    return (
        _synthetic_files(),
        "synthetic ({users:,} users, {movies:,} movies, {ratings:,} ratings)".format(**SYNTHETIC),
    )


def _synthetic_files() -> Path:
    """`cinecluster synth` output at the demo size, generated once and kept in the user cache."""
    from loaders.synth import synthesize

    # v2: synth's movie ids start at 1 since then; older cached files are left alone, not reused
    target = _user_dir("cache") / "synthetic-v2-{users}u-{movies}m-{ratings}r-s{seed}".format(**SYNTHETIC)
    if not target.is_dir():
        # written beside the target and renamed, so an interrupted run never leaves half a data set
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            synthesize(partial, **SYNTHETIC)
            partial.rename(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


def ensure_loaded(engine: Engine, directory: Path, label: str) -> bool:
    """Load `directory` unless the database already holds exactly it; True when it loaded."""
    from loaders.files import locate
    from loaders.load import load_files

    fingerprint = demo_state.data_fingerprint(directory)
    with engine.connect() as conn:
        if demo_state.is_loaded(conn, fingerprint):
            return False
    summary = load_files(engine, locate(directory, {}), mode="replace")
    if not summary.committed:
        raise UserError(f"loading {label} failed; nothing was changed")
    with engine.begin() as conn:
        demo_state.record_load(conn, fingerprint, label)
    return True


def ensure_model(engine: Engine, *, data_changed: bool) -> tuple[int, bool]:
    """(active version, whether it is new): reclusters when there is no model or new data."""
    with engine.connect() as conn:
        version = active_version(conn)
    if version is not None and not data_changed:
        return version, False
    from scheduler.job import run_recluster  # imports scikit-learn and ONNX: seconds, so only when needed

    return run_recluster(engine, trigger="cli").version, True


def summary(engine: Engine, base_url: str, embedded_url: str | None = None) -> str:
    """A few lines for the terminal: what is loaded, the clusters, and URLs to try.

    With an embedded server, other commands reach it only while the demo runs, through its
    socket URL, so the report hint carries that URL.
    """
    with engine.connect() as conn:
        counts = demo_state.table_counts(conn)
        users = conn.scalar(select(func.count(func.distinct(ratings.c.user_id)))) or 0
        version = active_version(conn)
        sizes = conn.execute(
            select(movie_clusters.c.cluster, func.count())
            .where(movie_clusters.c.version == version)
            .group_by(movie_clusters.c.cluster)
            .order_by(movie_clusters.c.cluster)
        ).all()
        first_user = conn.scalar(select(func.min(ratings.c.user_id)))
        first_movie = conn.scalar(select(func.min(movie_clusters.c.movie_id)))
        k = conn.scalar(select(func.count()).where(cluster_centroids.c.version == version))
    lines = [
        f"data     {counts['movies']:,} movies, {counts['ratings']:,} ratings, {counts['tags']:,} tags, "
        f"{users:,} users",
        f"model    version {version}: {k} clusters, sizes " + " ".join(f"{c}:{n}" for c, n in sizes),
        "try:",
        f"  {base_url}/dashboard      (the dashboard: clusters, movies, users, models)",
        f"  {base_url}/recommend/user/{first_user}?n=5",
        f"  {base_url}/recommend/movie/{first_movie}?n=5",
        f"  {base_url}/clusters",
        f"  {base_url}/docs      (every endpoint, interactive)",
    ]
    if embedded_url:
        lines.append(
            f"  DATABASE_URL='{libpq_url(embedded_url)}' cinecluster report --out report"
            "   (plots and a written report; works while the demo runs)"
        )
    else:
        lines.append("  cinecluster report --out report   (plots and a written report of the clusters)")
    return "\n".join(lines)
