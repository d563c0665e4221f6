#!/bin/bash
# InfluxDB 2.x first-start hook (docker-compose.yml mounts this folder at
# /docker-entrypoint-initdb.d). The influxdb image runs it once, right after
# DOCKER_INFLUXDB_INIT_MODE=setup created the org and the bucket, with the `influx` CLI
# already pointed at the new server and the admin token, and with
# DOCKER_INFLUXDB_INIT_ORG_ID / DOCKER_INFLUXDB_INIT_BUCKET_ID exported.
#
# It makes the bucket usable through the v1-compatible API that k6's `influxdb` output,
# Luna and Grafana's InfluxQL data source speak:
#   1. a DBRP mapping: database "k6" (retention policy "autogen") -> bucket "k6";
#   2. a v1 authorization (username/password) with read and write access to the bucket,
#      for k6 runs outside Luna (K6_INFLUXDB_USERNAME / K6_INFLUXDB_PASSWORD).
#      Luna and Grafana do not need it: they send the API token as the password.
# The file must stay executable (the image runs it with run-parts).
set -euo pipefail

db="${INFLUXDB_V1_DATABASE:-${DOCKER_INFLUXDB_INIT_BUCKET}}"
user="${INFLUXDB_V1_USERNAME:-k6}"
password="${INFLUXDB_V1_PASSWORD:?set INFLUXDB_V1_PASSWORD (8 characters or more)}"
org_id="${DOCKER_INFLUXDB_INIT_ORG_ID:?run by the influxdb image after setup}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:?run by the influxdb image after setup}"

echo "luna-init: DBRP mapping ${db}/autogen -> bucket ${DOCKER_INFLUXDB_INIT_BUCKET} (${bucket_id})"
influx v1 dbrp create \
  --org-id "${org_id}" \
  --bucket-id "${bucket_id}" \
  --db "${db}" \
  --rp autogen \
  --default

echo "luna-init: v1 authorization '${user}' (read/write ${DOCKER_INFLUXDB_INIT_BUCKET})"
influx v1 auth create \
  --org-id "${org_id}" \
  --username "${user}" \
  --password "${password}" \
  --read-bucket "${bucket_id}" \
  --write-bucket "${bucket_id}" \
  --description "k6 v1 output (Luna stack)"
