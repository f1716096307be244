# Stand-in for postgres:16: Debian's PostgreSQL 15 with an entrypoint that does what the
# official one does with POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB.
ARG BASE_IMAGE=stylize-standin-base
FROM ${BASE_IMAGE}
# No cluster of Debian's own: the entrypoint makes one in PGDATA (the compose volume).
# hadolint ignore=DL3008
RUN install -d /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
# The user Debian's package made (its uid is whatever the package got).
# hadolint ignore=DL3066
USER postgres
EXPOSE 5432
ENTRYPOINT ["postgres-entrypoint.sh"]
