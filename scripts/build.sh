#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures and builds Moonwire into build/ (or $1), passing any further
# arguments to cmake. Example: scripts/build.sh build-asan -DMW_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
