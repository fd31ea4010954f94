# The PgBouncer sidecar image: Debian bookworm's `pgbouncer` package, the same build the tests
# and the benchmark run against. Its configuration is mounted (deploy/README.md), not baked in:
#
#   docker build -f deploy/pgbouncer.Dockerfile -t YOUR_REGION-docker.pkg.dev/YOUR_PROJECT/ml/pgbouncer:1.18 deploy
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/*

# the package's `postgres` user; PgBouncer refuses to run as root
USER postgres
ENTRYPOINT ["pgbouncer"]
CMD ["/etc/pgbouncer/pgbouncer.ini"]
