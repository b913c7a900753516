#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Template benchmark: renders ticket.hbs with Moonwire (json, text, html) and
# handlebars.js on Node.js (text, html) in one run, checks that both engines
# wrote the same text, and prints renders per second and the ratios.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
payloads="$root/../shared/data/payloads"
payload="${BENCH_PAYLOAD:-$payloads/bigpanda-incident-updated-many-alerts.json}"
export BENCH_TEMPLATE="$here/ticket.hbs"
export BENCH_SECONDS="${BENCH_SECONDS:-1}" BENCH_ROUNDS="${BENCH_ROUNDS:-5}"
export BENCH_PASSES="${BENCH_PASSES:-2}"

# An optimized build of its own: build/ may be configured for debugging.
if [ -z "${MOONWIRE:-}" ]; then
    cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        >/dev/null
    make -s -C "$root/build-bench" moonwire >/dev/null
    MOONWIRE="$root/build-bench/moonwire"
fi
if [ ! -d "$here/node_modules/handlebars" ]; then
    (cd "$here" && npm install --no-package-lock --no-audit --no-fund --silent)
fi

BENCH_OUT="$(mktemp -d "${TMPDIR:-/tmp}/mw-tpl-bench.XXXXXX")"
export BENCH_OUT BENCH_DATA="$BENCH_OUT/data.json"
trap 'rm -rf "$BENCH_OUT"' EXIT
node "$here/bench.js" data "$payload" >"$BENCH_DATA"

# Passes alternate the engines, so that a busy spell on the machine slows
# both; each mode's best round over all passes counts.
for _ in $(seq "$BENCH_PASSES"); do
    (cd "$root" && "$MOONWIRE" test bench/templates/bench.lua) \
        >"$BENCH_OUT/moonwire.tap"
    if ! grep -q '^# bench ' "$BENCH_OUT/moonwire.tap"; then
        cat "$BENCH_OUT/moonwire.tap" >&2
        exit 1
    fi
    sed -n 's/^# bench //p' "$BENCH_OUT/moonwire.tap" \
        >>"$BENCH_OUT/moonwire.result"
    node "$here/bench.js" run >>"$BENCH_OUT/handlebars.result"
done
node "$here/bench.js" report "$BENCH_OUT"
