# The worker image: the engine (TensorFlow with its CUDA libraries from PyPI) and ImageNet VGG16.
# Runs on NVIDIA GPUs (compose reserves them) and, slowly, on a CPU.
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
RUN pip install --no-cache-dir ".[worker,cuda,s3]" \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/stylize stylize \
    && install -d -o 10001 -g 10001 /var/lib/stylize/gpu-claims
USER 10001:10001
WORKDIR /home/stylize
# Jobs never download; the build does, once, into Keras's cache (~/.keras/models) of this user.
RUN stylize weights fetch
ENV STYLIZE_VGG_WEIGHTS=imagenet STYLIZE_LOG_FORMAT=json
EXPOSE 9100
CMD ["stylize", "worker", "--metrics-port", "9100"]
