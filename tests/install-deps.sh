#!/usr/bin/env bash
# Installs what etl builds and tests with, on Debian 12: the Debian packages
# (apt-get, as root, only when one is missing), the npm test peers from the
# committed lockfile (npm ci: DuckDB, s3rver, the Elasticsearch client,
# elasticdump), and moto/boto3 for the S3 tests when Python lacks them.
set -eu
cd "$(dirname "$0")/.."
packages="build-essential autoconf automake libtool libltdl-dev pkg-config
  libcurl4-openssl-dev libyaml-dev libcjson-dev check libzstd-dev zlib1g-dev
  libsnappy-dev libsqlite3-dev libssl-dev valgrind curl jq time ca-certificates
  gzip zstd python3 bsdutils"
command -v node >/dev/null 2>&1 || packages="$packages nodejs npm"
missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "== installing Debian packages:$missing"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm test peers, exactly as locked (no install scripts run).
if [ ! -d node_modules/@duckdb/node-api ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "== npm ci"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# moto_server and boto3: preinstalled on these machines; elsewhere try pip.
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c 'import boto3' 2>/dev/null; then
    echo "== installing moto[server] and boto3 with pip"
    python3 -m pip install --quiet 'moto[server]' boto3 \
        || echo "warning: moto/boto3 could not be installed: the S3 tests will say so and skip" >&2
fi
