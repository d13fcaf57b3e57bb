# syntax=docker/dockerfile:1
# One image, two entry points: `ohlcv-operator` (control plane) and
# `ohlcv-collector` (one Deployment per exchange runs it). The Deployment chooses
# the command; the image runs as a non-root user with a read-only root filesystem.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/ohlcv
COPY constraints.txt pyproject.toml README.md ./
COPY operator ./operator
COPY collector ./collector
# Precompile bytecode: importing ccxt takes seconds without it, and the root
# filesystem is read-only at run time, so Python could not cache it there.
RUN /opt/ohlcv/bin/pip install -c constraints.txt . \
 && /opt/ohlcv/bin/python -m compileall -q -j 0 /opt/ohlcv

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="fullon-ohlcv" \
      org.opencontainers.image.description="Kubernetes operator and per-exchange collectors of OHLCV candles and trades for fullon" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin ohlcv
COPY --from=build /opt/ohlcv /opt/ohlcv
ENV PATH=/opt/ohlcv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
CMD ["ohlcv-collector", "--help"]
