#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages Moonwire builds, tests and runs with.
# Idempotent: skips apt-get when every package is already present.
set -euo pipefail

pkgs=(
    build-essential cmake pkg-config
    libluajit-5.1-dev luajit
    libcurl4-openssl-dev libcjson-dev libevent-dev libsqlite3-dev
    libhttp-parser-dev libssl-dev libedit-dev
    python3 curl tzdata
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
