# Multi-stage: dependencies are built in a full virtualenv, the runtime image copies only that.
# No "# syntax=" line: it would make BuildKit pull a frontend image, which offline builds cannot.
#
# Two images from one file:
#   runtime  the default (`docker build .`, and the compose file's default target): the API,
#            the scheduler, the loader
#   spark    runtime plus the spark extra (pyspark, pyarrow), a Java runtime and PostgreSQL's JDBC
#            driver: the scheduler as Spark driver, and the compose profile `spark`'s master and
#            worker (docs/deploy.md, "Spark")
# The spark stages come after runtime: Docker's classic builder (docker-compose 1.29's) builds every
# stage above the target, so `--target runtime` (the compose file's default) never builds them.
# BuildKit builds only the stages the target needs.

# The base image: the official one by default; any Debian-like Python 3.11+ image with `python -m venv`
# works (docker build --build-arg PYTHON_IMAGE=python:3.11-slim; deploy/ builds a local stand-in).
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
# Wheels at hand (deploy/wheelhouse/: empty in the repository, filled by the compose stack test
# from the CI machine's pip): used alone when they cover everything, else the index as usual.
COPY deploy/wheelhouse /wheelhouse
COPY deploy/pip-install.sh /usr/local/bin/pip-install
RUN mkdir cinecluster loaders scheduler service evaluation migrations \
    && pip-install . \
    && pip uninstall -y cinecluster

FROM deps AS build
COPY cinecluster cinecluster
COPY loaders loaders
COPY ranking ranking
COPY scheduler scheduler
COPY service service
COPY evaluation evaluation
COPY migrations migrations
RUN pip-install --no-deps .

# What both images share: the user, the environment, the command. Runs as `cinecluster`.
FROM ${PYTHON_IMAGE} AS base
RUN useradd --system --uid 10001 --create-home --home-dir /home/cinecluster cinecluster
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg
USER cinecluster
WORKDIR /home/cinecluster
EXPOSE 8000
CMD ["cinecluster", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM base AS runtime
COPY --from=build /opt/venv /opt/venv

# --- target spark ---------------------------------------------------------------------------------
# The same virtualenv plus the spark extra: its dependencies before the code, as above.
FROM deps AS deps-spark
RUN pip-install '.[spark]' \
    && pip uninstall -y cinecluster

FROM deps-spark AS build-spark
# the sources the build stage installed
COPY --from=build /src /src
RUN pip-install --no-deps .

FROM base AS spark
USER root
# Java for Spark (bookworm's default-jre-headless is OpenJDK 17) and the PostgreSQL JDBC driver at
# /usr/share/java/postgresql.jar (CINECLUSTER_SPARK_JDBC_JAR's default). The man folder: openjdk's
# postinst links its man pages there, and slim images leave it out.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        default-jre-headless libpostgresql-jdbc-java \
    && rm -rf /var/lib/apt/lists/*
# A worker's scratch space and its executors' logs (Spark's default, pyspark's install folder, is
# read-only for the user); the executors' Python is the driver's, /opt/venv/bin/python, in the same
# place in this image wherever it runs.
ENV SPARK_WORKER_DIR=/tmp/spark-worker
USER cinecluster
COPY --from=build-spark /opt/venv /opt/venv

# The default target, last so that `docker build .` (no --target) gives the plain image.
FROM runtime
