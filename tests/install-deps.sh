#!/usr/bin/env bash
# Installs the Debian 12 packages etl builds and tests with (as root, when
# any is missing).
set -eu
packages="build-essential autoconf automake libtool libltdl-dev pkg-config
  libcurl4-openssl-dev libyaml-dev libcjson-dev check libzstd-dev zlib1g-dev
  libsnappy-dev libsqlite3-dev libssl-dev valgrind curl jq time ca-certificates
  gzip zstd"
missing=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $packages 2>/dev/null \
    | awk '$2 != "installed" {print $1}'; for p in $packages; do
        dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)
missing=$(echo "$missing" | sort -u | tr '\n' ' ')
if [ -n "${missing// /}" ]; then
    echo "== installing: $missing"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
