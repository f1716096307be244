# Stand-in for redis:7.4: Debian's redis-server, run in /data as the official image does.
ARG BASE_IMAGE=stylize-standin-base
FROM ${BASE_IMAGE}
# Whatever version bookworm has (DL3008: no pin).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o redis -g redis /data
WORKDIR /data
# The user Debian's package made (its uid is whatever the package got).
# hadolint ignore=DL3066
USER redis
EXPOSE 6379
CMD ["redis-server"]
