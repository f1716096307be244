# The API image: HTTP API (gunicorn), migrations, Flower, the reaper, webhook delivery and the
# CLI. No TensorFlow in it: the engine is the `worker` extra, installed only in worker.Dockerfile.
# BASE_IMAGE: any Debian-based image with Python 3.11+ and pip first on PATH (an offline build
# names one of its own: docs/operations.md).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/stylize
# The dependencies first, from pyproject.toml alone (its ranges pin them), so that this layer
# is built again only when pyproject.toml changes; README.md is the real one further down.
COPY pyproject.toml ./
# hadolint ignore=DL3013
RUN touch README.md \
    && pip install --no-cache-dir ".[s3]" \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/stylize stylize
# The project itself: every package that pyproject.toml's packages.find includes.
COPY README.md ./
COPY api api
COPY worker worker
COPY shared shared
COPY cli cli
COPY client client
COPY migrations migrations
COPY bench bench
RUN pip install --no-cache-dir --no-deps --force-reinstall . && rm -rf build ./*.egg-info
USER 10001:10001
WORKDIR /home/stylize
ENV STYLIZE_API_HOST=0.0.0.0 STYLIZE_LOG_FORMAT=json
EXPOSE 8000 5555
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"]
CMD ["stylize", "api"]
