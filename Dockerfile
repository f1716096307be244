# One image for every role (api, worker, flower, migrate); the command picks the role.
FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY shared shared
COPY cli cli
COPY migrations migrations
RUN pip install --no-cache-dir ".[s3]"
ENV STYLIZE_API_HOST=0.0.0.0
EXPOSE 8000 5555
CMD ["stylize", "api"]
