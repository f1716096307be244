# The API image: HTTP API (gunicorn), migrations, Flower, the reaper and the CLI.
# No TensorFlow in it (DESIGN §1): the engine is the `worker` extra, installed only in worker.Dockerfile.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/stylize
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY shared shared
COPY cli cli
COPY migrations migrations
COPY bench bench
# The project itself; its dependencies are pinned by the ranges in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[s3]" \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/stylize stylize
USER 10001:10001
WORKDIR /home/stylize
ENV STYLIZE_API_HOST=0.0.0.0 STYLIZE_LOG_FORMAT=json
EXPOSE 8000 5555
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"]
CMD ["stylize", "api"]
