# Stand-in for minio/minio and minio/mc: moto's S3 server (PyPI) on port 9000, and an `mc`
# that knows the three commands docker-compose.yml gives it (alias set, mb, ready).
ARG BASE_IMAGE=stylize-standin-base
FROM ${BASE_IMAGE}
# hadolint ignore=DL3013
RUN pip install --no-cache-dir "moto[server]>=5.0" \
    && useradd --system --uid 10002 --user-group --create-home minio
COPY mc.py /usr/local/bin/mc
COPY minio-entrypoint.sh /usr/local/bin/minio
USER 10002:10002
EXPOSE 9000
ENTRYPOINT ["minio"]
CMD ["server", "/data"]
