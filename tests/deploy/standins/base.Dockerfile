# Stand-in for python:3.11-slim (tests/deploy/prepare.sh builds it; no registry is reached):
# Debian bookworm from debootstrap, imported as ROOTFS with Debian's python3 and the host's
# certificate authorities, plus a virtual environment first on PATH, so that `python` and
# `pip install` work as in the official image.
ARG ROOTFS=stylize-standin-rootfs
FROM ${ROOTFS}
ENV LANG=C.UTF-8 \
    VIRTUAL_ENV=/opt/python \
    PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /opt/python
CMD ["python"]
