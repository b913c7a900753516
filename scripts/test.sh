#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test: installs what is missing, builds with AddressSanitizer
# and UndefinedBehaviorSanitizer into build-asan/, checks the style, and
# runs CTest (C unit tests, Lua specs, end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_TYPE=Debug bash scripts/build.sh build-asan -DMW_SANITIZE=ON
bash scripts/check-style.sh
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-asan
ctest --output-on-failure --timeout 900 "$@"
