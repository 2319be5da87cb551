"""docker-compose.yml, Dockerfile and docs/deploy.md agree with the code (test_compose.py and
test_compose_spark.py run them).

Every `cinecluster ...` command they run must exist in the CLI with the options given, every
environment variable set for our containers must be one the Settings class reads, and every
HTTP healthcheck path must be a route of the API.
"""

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from compose_stack import spark_env_lines

from cinecluster.cli import app as cli_app
from cinecluster.settings import Settings, normalize_database_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# Variables the official postgres image reads (https://hub.docker.com/_/postgres).
POSTGRES_IMAGE_VARS = {
    "POSTGRES_PASSWORD",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "POSTGRES_INITDB_ARGS",
    "POSTGRES_INITDB_WALDIR",
    "POSTGRES_HOST_AUTH_METHOD",
    "PGDATA",
}
# Variables Spark's standalone master and worker read (Spark's "Spark Standalone Mode" page).
SPARK_DAEMON_VARS = {
    "SPARK_MASTER_HOST",
    "SPARK_MASTER_PORT",
    "SPARK_MASTER_WEBUI_PORT",
    "SPARK_MASTER_OPTS",
    "SPARK_LOCAL_IP",
    "SPARK_LOCAL_DIRS",
    "SPARK_PUBLIC_DNS",
    "SPARK_WORKER_CORES",
    "SPARK_WORKER_MEMORY",
    "SPARK_WORKER_PORT",
    "SPARK_WORKER_WEBUI_PORT",
    "SPARK_WORKER_DIR",
    "SPARK_WORKER_OPTS",
    "SPARK_DAEMON_MEMORY",
    "SPARK_DAEMON_JAVA_OPTS",
}


def settings_env_names() -> set[str]:
    """Every environment variable name the Settings class reads."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if isinstance(alias, str) else [])
        names.update(str(choice).upper() for choice in choices)
        if not choices:
            names.add(f"{prefix}{name}".upper())
    return names


def resolve(argv: list[str]) -> Any:
    """The click command `argv` (starting with "cinecluster") runs; fails on unknown commands/options.

    Duck-typed: recent Typer versions carry their own copy of click's classes.
    """
    assert argv[0] == "cinecluster", argv
    command = typer.main.get_command(cli_app)
    args = argv[1:]
    path = ["cinecluster"]
    while hasattr(command, "commands"):
        assert args and args[0] in command.commands, f"{' '.join(path)} has no command {args[:1]}"
        path.append(args[0])
        command = command.commands[args.pop(0)]
    options = {opt: p for p in command.params if p.param_type_name == "option" for opt in p.opts}
    positional = [p for p in command.params if p.param_type_name == "argument"]
    given: list[str] = []
    while args:
        token = args.pop(0)
        if token.startswith("--"):
            name = token.split("=", 1)[0]
            assert name in options, f"{' '.join(path)} has no option {name}"
            if not options[name].is_flag and "=" not in token:
                assert args, f"{name} needs a value"
                args.pop(0)
        else:
            given.append(token)
    assert len(given) <= sum(max(p.nargs, 1) if p.nargs != -1 else 99 for p in positional), (
        f"{' '.join(path)} takes {len(positional)} argument(s), got {given}"
    )
    return command


def spark_services() -> dict[str, dict[str, Any]]:
    """The profile `spark`: Spark's master and worker, from the Dockerfile's spark target."""
    return {name: s for name, s in SERVICES.items() if "spark" in s.get("profiles", [])}


def app_services() -> dict[str, dict[str, Any]]:
    """The services running cinecluster (built from the Dockerfile, not Spark's daemons)."""
    return {name: s for name, s in SERVICES.items() if "build" in s and name not in spark_services()}


def dockerfile_stages() -> list[tuple[str, str | None]]:
    """(base, stage name or None) of each FROM line of the Dockerfile, in order."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    return [
        (m.group(1), m.group(2)) for m in re.finditer(r"^FROM (\S+)(?: AS (\S+))?$", dockerfile, re.M | re.I)
    ]


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?error} with the defaults/placeholders filled in."""
    return re.sub(r"\$\{(\w+)(?::?[-?]([^}]*))?\}", lambda m: m.group(2) or f"x{m.group(1).lower()}", value)


def test_required_services_and_wiring() -> None:
    assert {"postgres", "migrate", "api", "scheduler", "load"} <= SERVICES.keys()
    postgres = SERVICES["postgres"]
    assert interpolate(postgres["image"]).split(":")[0] == "postgres"
    assert any(v.split(":")[0] in COMPOSE["volumes"] for v in postgres["volumes"])
    assert "healthcheck" in postgres
    assert "${POSTGRES_PASSWORD" in postgres["environment"]["POSTGRES_PASSWORD"]
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "scheduler", "load"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert SERVICES["load"]["profiles"] == ["load"]
    assert any(v.endswith(":/data:ro") for v in SERVICES["load"]["volumes"])


@pytest.mark.parametrize("service", sorted(app_services()))
def test_compose_commands_exist_in_the_cli(service: str) -> None:
    resolve(list(app_services()[service]["command"]))


def test_expected_commands() -> None:
    commands = {name: svc["command"][:3] for name, svc in app_services().items()}
    assert commands["migrate"] == ["cinecluster", "db", "upgrade"]
    assert commands["api"][:2] == ["cinecluster", "serve"]
    assert commands["scheduler"][:2] == ["cinecluster", "scheduler"]
    assert commands["load"][:2] == ["cinecluster", "load"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_environment_is_read_by_settings_or_postgres(service: str) -> None:
    environment = SERVICES[service].get("environment", {})
    allowed = settings_env_names()
    if service == "postgres":
        allowed = POSTGRES_IMAGE_VARS
    elif service in spark_services():
        allowed = SPARK_DAEMON_VARS
    assert set(environment) <= allowed, set(environment) - allowed
    if "DATABASE_URL" in environment:
        normalize_database_url(interpolate(environment["DATABASE_URL"]))  # raises if malformed


def test_env_example_holds_only_used_names_and_no_secrets() -> None:
    compose_text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    pairs = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    for name, value in pairs.items():
        assert "${" + name in compose_text, f".env.example sets {name}, which the compose file never uses"
        if name in {"POSTGRES_PASSWORD", "CINECLUSTER_ADMIN_TOKEN"}:
            assert value in {"", "change-me"}, f"{name} in .env.example must be a placeholder"
    # the commented-out examples too (COMPOSE_*: Compose's own variables)
    for line in lines:
        example = re.fullmatch(r"# ?([A-Z][A-Z0-9_]*)=.*", line)
        if example and not example.group(1).startswith("COMPOSE_"):
            assert "${" + example.group(1) in compose_text, f".env.example: {line}, never used"


def test_base_images_are_parameters_defaulting_to_the_official_images() -> None:
    """A sysadmin with registry access changes nothing; an offline machine passes stand-ins."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    arg = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M)
    assert arg and arg.group(1).startswith("python:3.")
    stages = dockerfile_stages()
    for i, (base, _) in enumerate(stages):  # every stage starts from the base image or an earlier stage
        assert base == "${PYTHON_IMAGE}" or base in {name for _, name in stages[:i]}, base
    assert not dockerfile.startswith("# syntax="), "a syntax line makes BuildKit pull a frontend image"
    for service in [*app_services().values(), *spark_services().values()]:
        assert interpolate(service["build"]["args"]["PYTHON_IMAGE"]) == arg.group(1)
    assert SERVICES["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:16}"


def test_one_file_for_compose_v1_and_v2() -> None:
    """docker-compose 1.29 rejects a top-level `name:`; Compose v2 warns about `version:`."""
    assert set(COMPOSE) <= {"services", "volumes", "networks"} | {k for k in COMPOSE if k.startswith("x-")}


def test_healthcheck_paths_are_api_routes(clustered_db_url: str) -> None:
    """Asked over HTTP of the real app on a clustered database: each path answers 200."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    paths = []
    for svc in app_services().values():
        test = " ".join(svc.get("healthcheck", {}).get("test", []))
        paths += re.findall(r"https?://[^/\s'\"]+(/[^\s'\"?]*)", test)
    assert "/readyz" in paths
    with TestClient(create_app(Settings(database_url=clustered_db_url))) as client:
        for path in paths:
            assert client.get(path).status_code == 200, path


def test_dockerfile_builds_every_package_as_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2, "multi-stage build"
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for package in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        name = package.rstrip("*")
        assert re.search(rf"^COPY {name} {name}$", dockerfile, re.M), f"Dockerfile does not copy {name}/"
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd
    resolve(json.loads(cmd.group(1)))
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and ".git" in ignored


def deploy_doc_commands() -> list[list[str]]:
    text = (ROOT / "docs/deploy.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0]
            for match in re.finditer(r"(?<![-\w/@:])cinecluster (?=[a-z])", line):
                rest = re.split(r"\s(?:\||>|<|&&)\s", line[match.start() :])[0]
                commands.append(shlex.split(rest))
    return commands


def test_deploy_doc_commands_exist_in_the_cli() -> None:
    commands = deploy_doc_commands()
    assert len(commands) >= 5
    for argv in commands:
        resolve(argv)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_docker_build_without_a_target_gives_the_runtime_image() -> None:
    """`docker build .` and the compose file's default target give the plain image; the spark
    stages come after runtime, since Docker's classic builder (docker-compose 1.29) builds every
    stage above the target."""
    stages = dockerfile_stages()
    names = [name for _, name in stages]
    assert stages[-1][0] == "runtime" or names[-1] == "runtime", "the last stage is the default image"
    before_runtime = names[: names.index("runtime")]
    assert "spark" in names[names.index("runtime") :]
    assert not [name for name in before_runtime if name and "spark" in name]
    assert {interpolate(s["build"]["target"]) for s in app_services().values()} == {"runtime"}


def test_spark_profile_is_a_master_and_a_worker_of_the_spark_image() -> None:
    spark = spark_services()
    assert set(spark) == {"spark-master", "spark-worker"}
    for service in spark.values():
        assert service["profiles"] == ["spark"]
        assert service["build"]["target"] == "spark"
        assert service["image"].startswith("${CINECLUSTER_SPARK_IMAGE:-")
    master, worker = spark["spark-master"], spark["spark-worker"]
    assert master["command"][:2] == ["spark-class", "org.apache.spark.deploy.master.Master"]
    assert worker["command"][:2] == ["spark-class", "org.apache.spark.deploy.worker.Worker"]
    host, port = option(master["command"], "--host"), option(master["command"], "--port")
    assert (host, worker["command"][-1]) == ("spark-master", f"spark://spark-master:{port}")
    assert "healthcheck" in master
    assert worker["depends_on"]["spark-master"]["condition"] == "service_healthy"
    # anyone reaching the master's port can run code on the workers: never published
    published = [interpolate(p) for s in spark.values() for p in s.get("ports", [])]
    assert not [p for p in published if p.endswith(f":{port}")], published
    # without the profile, nothing waits for it
    for name, service in SERVICES.items():
        if name not in spark:
            assert not set(service.get("depends_on", {})) & set(spark), name


def test_env_example_spark_lines_point_the_scheduler_at_the_profile() -> None:
    """The lines .env.example and docs/deploy.md give for Spark (test_compose_spark.py runs them)."""
    lines = spark_env_lines()
    values = dict(line.split("=", 1) for line in lines)
    worker = SERVICES["spark-worker"]["command"]
    assert values == {
        "COMPOSE_PROFILES": "spark",
        "CINECLUSTER_BUILD_TARGET": "spark",
        "CINECLUSTER_RECLUSTER_ENGINE": "spark",
        "CINECLUSTER_SPARK_MASTER": worker[-1],
    }
    scheduler = SERVICES["scheduler"]["environment"]
    spark_settings = ("MASTER", "CONF", "PARTITIONS", "JDBC_URL")
    for name in ["CINECLUSTER_RECLUSTER_ENGINE", *(f"CINECLUSTER_SPARK_{n}" for n in spark_settings)]:
        assert scheduler[name] == "${" + name + ":-}", "unset: the Settings default (in-process engine)"
    Settings(recluster_engine=values["CINECLUSTER_RECLUSTER_ENGINE"])  # a valid engine name
    example = re.search(r"^# ?CINECLUSTER_SPARK_CONF=(.*)$", (ROOT / ".env.example").read_text(), re.M)
    assert example and isinstance(json.loads(example.group(1)), dict)
    deploy = (ROOT / "docs/deploy.md").read_text(encoding="utf-8")
    for line in lines:
        assert line in deploy, f"docs/deploy.md does not give {line}"
