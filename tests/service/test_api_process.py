"""The API process after every route, writes included, has loaded no training code.

A real `cinecluster serve` (the CLI's `main()`, uvicorn) runs with one addition: at exit it
writes its `sys.modules` to a file. Every route of the app gets a request, each with the answer
it must give (so the route's work was done, not refused), enum query values included (every
strategy, both plots); the server is stopped with SIGTERM, and the modules it had loaded are read.
The routes are read from the app itself: a route added without a request here fails
`test_every_route_of_the_app_has_a_request`.

The static half of the same rule is pyproject.toml's import contracts (`lint-imports`).
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import auth, served
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from starlette.routing import Mount

from cinecluster.db import raw_connection
from cinecluster.settings import Settings
from ranking.version_model import load_model
from service.app import create_app

try:  # newer FastAPI keeps included routers as lazy entries; this walks them as served
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI: app.routes is flat

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[no-redef]
        return routes


# `python -c` this, then the CLI's arguments: `cinecluster serve` noting its modules at exit.
# (uvicorn shuts down on SIGTERM, then raises it again for the handler it found: here, an exit)
DUMP_MODULES_AT_EXIT = """
import atexit, json, signal, sys
atexit.register(lambda: open({!r}, "w").write(json.dumps(sorted(sys.modules))))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sys.argv[0] = "cinecluster"
from cinecluster.cli import main
main()
"""

# The training stack: what the scheduler and the CLI load, never the API. scipy is not in it: the
# API ranks a just-rated user with the refresh's own ranker (ranking/users.py, scipy.sparse;
# service/recommenders/fresh.py), ~16 MB of the idle process.
TRAINING_LIBRARIES = {"sklearn", "skl2onnx", "onnx", "onnxruntime", "joblib", "pandas", "pyarrow"}
TRAINING_LIBRARIES |= {"pyspark", "py4j"}
# The scheduler's modules the API may use: run bookkeeping, options, and placing a new movie on
# the active version's centroids (numpy and SQL). The job, clustering, versions, item models and
# engines stay out; a new one here is a decision, made in review.
LIGHT_SCHEDULER = {
    "scheduler",
    "scheduler.features",
    "scheduler.heartbeat",
    "scheduler.options",
    "scheduler.pending",
    "scheduler.placement",
    "scheduler.runs",
}


@dataclass(frozen=True)
class Call:
    """One request and the status it must get; `path` may name fixture ids: {user}, {movie}..."""

    path: str
    status: int
    json: Any = None
    enum_variants: bool = True  # also once per value of each enum query parameter
    route: str = ""  # the route's declared path, where the call is not in ROUTE_CALLS


@dataclass
class Ids:
    """Ids of the clustered sample this test's database holds (real or generated sample)."""

    user: int
    movie: int
    cluster: int
    version: int
    run: int
    genre: str

    def fill(self, path: str) -> str:
        return path.format(**vars(self))


# Every route of the app: (method, path as the app declares it) -> the calls made, in order.
# Writes come after the reads of the same resource, and the live ranking after a rating.
ROUTE_CALLS: dict[tuple[str, str], list[Call]] = {
    ("GET", "/healthz"): [Call("/healthz", 200)],
    ("GET", "/readyz"): [Call("/readyz", 200)],
    ("GET", "/metrics"): [Call("/metrics", 200)],
    ("GET", "/"): [Call("/", 200)],
    ("GET", "/openapi.json"): [Call("/openapi.json", 200)],
    ("GET", "/docs"): [Call("/docs", 200)],
    ("GET", "/docs/oauth2-redirect"): [Call("/docs/oauth2-redirect", 200)],
    ("GET", "/redoc"): [Call("/redoc", 200)],
    ("GET", "/movie/{movie_id}"): [Call("/movie/{movie}", 200)],
    ("GET", "/movies"): [Call("/movies?search=a", 200), Call("/movies?cluster={cluster}", 200)],
    ("GET", "/recommend/movie/{movie_id}"): [
        Call("/recommend/movie/{movie}", 200),
        Call("/recommend/movie/{movie}?genre={genre}", 200),
    ],
    ("GET", "/recommend/user/{user_id}"): [
        Call("/recommend/user/{user}", 200),
        Call("/recommend/user/{user}?genre={genre}", 200),
        Call("/recommend/user/{user}?exclude={movie}", 200),
        Call("/recommend/user/999999999?fallback=popular", 200),
    ],
    ("POST", "/recommend/session"): [Call("/recommend/session", 200, {"movieIds": ["{movie}"]})],
    ("POST", "/recommend/users"): [Call("/recommend/users", 200, {"userIds": ["{user}", 999999999]})],
    ("GET", "/users/{user_id}/favorite-cluster"): [Call("/users/{user}/favorite-cluster", 200)],
    ("GET", "/clusters"): [Call("/clusters", 200)],
    ("GET", "/clusters/plot.png"): [Call("/clusters/plot.png", 200)],
    ("GET", "/clusters/{cluster}"): [Call("/clusters/{cluster}", 200)],
    ("GET", "/clusters/{cluster}/movies"): [Call("/clusters/{cluster}/movies", 200)],
    ("GET", "/models"): [Call("/models", 200)],
    ("GET", "/models/active"): [Call("/models/active", 200)],
    ("GET", "/admin/runs"): [Call("/admin/runs", 200)],
    ("GET", "/admin/runs/{run_id}"): [Call("/admin/runs/{run}", 200)],
    ("GET", "/admin/scheduler"): [Call("/admin/scheduler", 200)],
    ("GET", "/dashboard"): [Call("/dashboard", 200)],
    ("GET", "/dashboard/clusters"): [Call("/dashboard/clusters", 200)],
    ("GET", "/dashboard/clusters/{cluster}"): [Call("/dashboard/clusters/{cluster}", 200)],
    ("GET", "/dashboard/movies"): [Call("/dashboard/movies?search=a", 200)],
    ("GET", "/dashboard/movies/{movie_id}"): [Call("/dashboard/movies/{movie}", 200)],
    ("GET", "/dashboard/users"): [Call("/dashboard/users", 200), Call("/dashboard/users?user={user}", 303)],
    ("GET", "/dashboard/users/{user_id}"): [Call("/dashboard/users/{user}", 200)],
    ("GET", "/dashboard/models"): [Call("/dashboard/models", 200)],
    ("GET", "/dashboard/models/runs"): [Call("/dashboard/models/runs", 200)],
    ("GET", "/dashboard/{anything:path}"): [Call("/dashboard/no-such-page", 404)],
    # writes
    ("POST", "/movies"): [Call("/movies", 201, {"title": "Footprint (2024)", "genres": ["Drama"]})],
    ("POST", "/ratings"): [
        Call("/ratings", 201, [{"userId": "{user}", "movieId": "{movie}", "rating": 4.5}]),
    ],
    ("POST", "/models/{version}/activate"): [Call("/models/{version}/activate", 200)],
    ("PATCH", "/movies/{movie_id}"): [Call("/movies/{movie}", 200, {"hidden": True})],
    ("POST", "/admin/recluster"): [Call("/admin/recluster", 202, {"k": 4})],
}
# After the writes: the user who just rated is ranked now (the version's model loaded in the
# process, every strategy), a new movie is found.
AFTER_WRITES = [
    Call("/recommend/user/{user}", 200, route="/recommend/user/{user_id}"),
    Call("/movies?search=Footprint", 200, route="/movies"),
]


def app_routes(app: FastAPI) -> tuple[set[tuple[str, str]], dict[str, Path]]:
    """(method, path) of every route (HEAD aside: GET's twin), and each static mount's directory."""
    routes: set[tuple[str, str]] = set()
    mounts: dict[str, Path] = {}
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            mounts[route.path] = Path(route.original_route.app.directory)  # type: ignore[attr-defined]  # StaticFiles
            continue
        routes |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return routes, mounts


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The app as `cinecluster serve` builds it, for its routes (no database is touched)."""
    return create_app(Settings(database_url="postgresql://routes-only@127.0.0.1:1/none"))


def test_every_route_of_the_app_has_a_request(app: FastAPI) -> None:
    routes, _ = app_routes(app)
    missing = sorted(routes - ROUTE_CALLS.keys())
    assert not missing, f"routes without a request in ROUTE_CALLS ({__file__}): {missing}"
    assert not sorted(ROUTE_CALLS.keys() - routes), "ROUTE_CALLS names routes the app does not have"


def enum_variants(document: dict, method: str, path: str) -> list[str]:
    """`name=value` for each value of each enum query parameter of the operation (OpenAPI)."""
    schemas = document.get("components", {}).get("schemas", {})
    operation = document["paths"].get(path, {}).get(method.lower(), {})
    variants = []
    for parameter in operation.get("parameters", []):
        schema = parameter["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        if parameter["in"] == "query" and "enum" in schema:
            variants += [f"{parameter['name']}={value}" for value in schema["enum"]]
    return variants


def sample_ids(db_url: str) -> Ids:
    engine = create_engine(db_url)
    one = "SELECT {} FROM {} ORDER BY 1 LIMIT 1"
    with engine.connect() as conn:

        def first(column: str, table: str) -> Any:
            return conn.execute(text(one.format(column, table))).scalar_one()

        ids = Ids(
            user=first("user_id", "ratings"),
            movie=first("movie_id", "current_movie_clusters"),
            cluster=first("cluster", "current_movie_clusters"),
            version=first("version", "active_model"),
            run=first("run_id", "recluster_runs"),
            genre=first("unnest(genres)", "movies"),
        )
    engine.dispose()
    return ids


def _fill_json(value: Any, ids: Ids) -> Any:
    if isinstance(value, list):
        return [_fill_json(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill_json(v, ids) for k, v in value.items()}
    if isinstance(value, str) and re.fullmatch(r"\{\w+\}", value):
        return int(ids.fill(value))
    return value


def test_the_api_process_after_every_route_has_loaded_no_training_code(
    app: FastAPI, clustered_db_url: str, tmp_path: Path
) -> None:
    routes, mounts = app_routes(app)
    assert routes == ROUTE_CALLS.keys()  # else see test_every_route_of_the_app_has_a_request
    calls = planned_calls(app.openapi(), mounts)
    ids = sample_ids(clustered_db_url)
    modules_file = tmp_path / "modules.json"
    with served(
        clustered_db_url, tmp_path, cli=["-c", DUMP_MODULES_AT_EXIT.format(str(modules_file))]
    ) as server:
        rss_idle = resident_mb(server.process.pid)
        with httpx.Client(base_url=server.base, headers=auth(), timeout=120) as client:
            answers = [request(client, method, c, ids) for method, c in calls]
        rss_after = resident_mb(server.process.pid)
    assert server.process.returncode == 0, server.log()[-4000:]
    loaded = set(json.loads(modules_file.read_text(encoding="utf-8")))

    unexpected = [(method, path, status) for method, path, status, expected in answers if status != expected]
    assert not unexpected, f"answers other than the expected ones: {unexpected}"
    assert {"service.app", "scheduler.placement", "service.chart_process"} <= loaded  # every route ran
    assert "matplotlib" not in {m.split(".")[0] for m in loaded}  # charts are drawn in a child
    training = sorted({m.split(".")[0] for m in loaded} & TRAINING_LIBRARIES)
    assert not training, f"the API process loaded training libraries: {training}"
    own = sorted(m for m in loaded if m.split(".")[0] == "scheduler" and m not in LIGHT_SCHEDULER)
    assert not own, f"the API process loaded the job's modules: {own}"
    # The training stack added ~175 MB here, matplotlib ~45 MB to an idle ~100 MB (issue 25:
    # within 20 MB of idle after every route), besides the active version's model the process
    # holds by design for just-rated users (service/recommenders/fresh.py; ~15 MB: 3,000 x 200).
    engine = create_engine(clustered_db_url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version FROM active_model")).scalar_one()
        model_mb = load_model(raw_connection(conn), version).ranker.nbytes() / 2**20
    engine.dispose()
    assert 5 < model_mb < 30, model_mb
    assert rss_after - rss_idle < 20 + model_mb, (rss_idle, rss_after, model_mb)


def planned_calls(document: dict, mounts: dict[str, Path]) -> list[tuple[str, Call]]:
    """(method, call) for every call of ROUTE_CALLS with its enum variants, reads before writes,
    then AFTER_WRITES, then one file of each static mount."""
    calls = [
        (method, variant)
        for (method, route), route_calls in ROUTE_CALLS.items()
        for call in route_calls
        for variant in with_enums(call, method, route, document)
    ]
    calls.sort(key=lambda method_call: method_call[0] != "GET")  # stable: writes keep their order
    calls += [("GET", v) for c in AFTER_WRITES for v in with_enums(c, "GET", c.route, document)]
    for prefix, directory in mounts.items():
        name = min(p.name for p in directory.iterdir() if p.is_file())
        calls.append(("GET", Call(f"{prefix}/{name}", 200)))
    return calls


def with_enums(call: Call, method: str, route: str, document: dict) -> list[Call]:
    """The call, and once more per value of each enum query parameter of its route."""
    variants = [call]
    for query in enum_variants(document, method, route) if call.enum_variants else []:
        joiner = "&" if "?" in call.path else "?"
        variants.append(Call(call.path + joiner + query, call.status, call.json, enum_variants=False))
    return variants


def request(client: httpx.Client, method: str, call: Call, ids: Ids) -> tuple[str, str, int, int]:
    """(method, path, status, expected status)."""
    path = ids.fill(call.path)
    response = client.request(method, path, json=_fill_json(call.json, ids))
    return method, path, response.status_code, call.status


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match, status
    return int(match.group(1)) / 1024
