#!/bin/sh
# Creates Pulse's database roles pulse_auth, pulse_metrics and pulse_notify
# (deploy/postgres/roles.sql).
#
# The PostgreSQL image runs this once, as POSTGRES_USER on POSTGRES_DB, when it initialises
# an empty data directory (compose.yaml mounts it into /docker-entrypoint-initdb.d). On a
# database initialised before, run it by hand (docs/operations.md):
#   docker compose exec db /docker-entrypoint-initdb.d/10-pulse-roles.sh
set -eu

: "${PULSE_AUTH_DB_PASSWORD:?is not set: the password of the database role pulse_auth}"
: "${PULSE_METRICS_DB_PASSWORD:?is not set: the password of the database role pulse_metrics}"
: "${PULSE_NOTIFY_DB_PASSWORD:?is not set: the password of the database role pulse_notify}"
: "${PULSE_ALERTS_DB_PASSWORD:?is not set: the password of the database role pulse_alerts}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v auth_password="$PULSE_AUTH_DB_PASSWORD" \
    -v metrics_password="$PULSE_METRICS_DB_PASSWORD" \
    -v notify_password="$PULSE_NOTIFY_DB_PASSWORD" \
    -v alerts_password="$PULSE_ALERTS_DB_PASSWORD" \
    -v dbname="$POSTGRES_DB" \
    -f /pulse/roles.sql
