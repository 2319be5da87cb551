# Multi-stage: dependencies are built in a full virtualenv, the runtime image copies only that.
# No "# syntax=" line: it would make BuildKit pull a frontend image, which offline builds cannot.

# The base image: the official one by default; any Debian-like Python 3.11+ image with `python -m venv`
# works (docker build --build-arg PYTHON_IMAGE=python:3.11-slim; deploy/ builds a local stand-in).
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
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
COPY cinecluster cinecluster
COPY loaders loaders
COPY scheduler scheduler
COPY service service
COPY evaluation evaluation
COPY migrations migrations
RUN pip-install --no-deps .

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --create-home --home-dir /home/cinecluster cinecluster
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg
USER cinecluster
WORKDIR /home/cinecluster
EXPOSE 8000
CMD ["cinecluster", "serve", "--host", "0.0.0.0", "--port", "8000"]
