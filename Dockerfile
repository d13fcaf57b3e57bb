# syntax=docker/dockerfile:1
# One image, two entry points: `ohlcv-operator` (control plane) and `ohlcv-collector` (one
# Deployment per exchange runs it). The Deployment chooses the command. The image runs as the
# non-root user 10001 with a read-only root filesystem (only /tmp is writable, an emptyDir).
#
#   docker build -t ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# tests/integration/test_image.py runs the RUN steps of the build stage in a fresh virtual
# environment, so keep them runnable outside a container: absolute paths under /opt/ohlcv,
# relative ones under WORKDIR.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the pinned dependencies, bytecode precompiled -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# Without pip or setuptools in it: the base image's pip installs into it (pip --python), so
# the image ships no installer and no build backend.
RUN python -m venv --without-pip /opt/ohlcv
# Every dependency is pinned: pyproject.toml pins the direct ones, constraints.txt the whole
# resolved set (`make lock`). Neither stage has a compiler: every dependency installs from a
# wheel (constraints.txt pins versions that publish wheels for amd64 and arm64).
COPY constraints.txt pyproject.toml README.md ./
COPY operator ./operator
COPY collector ./collector
# Bytecode is compiled once here, hash-based and unchecked: importing ccxt takes seconds
# without it, the root filesystem is read-only at run time (Python could not cache it), and
# unchecked-hash .pyc files stay valid when a build tool resets file timestamps.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip --python /opt/ohlcv/bin/python install --no-compile -c constraints.txt . \
 && /opt/ohlcv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/ohlcv/lib

# --- runtime: the base image, a user, and the virtual environment; no build tools ---------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="fullon-ohlcv" \
      org.opencontainers.image.description="Kubernetes operator and per-exchange collectors of OHLCV candles and trades for fullon" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/fullon-ohlcv/fullon-ohlcv" \
      org.opencontainers.image.url="https://github.com/fullon-ohlcv/fullon-ohlcv" \
      org.opencontainers.image.documentation="https://github.com/fullon-ohlcv/fullon-ohlcv/blob/main/README.md" \
      org.opencontainers.image.vendor="fullon-ohlcv" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"
RUN groupadd --system --gid 10001 ohlcv \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin ohlcv
COPY --from=build /opt/ohlcv /opt/ohlcv
ENV PATH=/opt/ohlcv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
CMD ["ohlcv-collector", "--help"]
