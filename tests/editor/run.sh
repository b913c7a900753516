#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the editor's tests: unit tests of its workflow model (vitest), the
# specs of moonwire.static, and the browser tests (playwright-core driving
# Debian's chromium, with axe-core) against the real daemon and target.
# Installs chromium when missing and builds the editor first. Ends with
# "N passed, N failed" and exits 1 when anything failed.
# Usage: tests/editor/run.sh [path/to/moonwire]  (default: build/moonwire)
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath -m "${1:-build/moonwire}")
logs=build/editor-tests
mkdir -p "$logs"

if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null \
        || { echo "run.sh: cannot install chromium"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! bash scripts/editor.sh; then
    echo "run.sh: the editor does not build"
    echo "0 passed, 1 failed"
    exit 1
fi
[ -x "$bin" ] || bash scripts/build.sh build >/dev/null

passed=0
failed=0

# add LOG: adds the counts of the last "N passed, N failed" line in LOG;
# a run that printed none counts as one failure
add() {
    local line
    line=$(sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "run.sh: $1 has no result line"
        failed=$((failed + 1))
        return
    fi
    set -- $line
    passed=$((passed + $1))
    failed=$((failed + $3))
}

echo "== unit tests of the workflow model"
(cd contrib/editor && npx vitest run --reporter=default --reporter=json \
    --outputFile.json="../../$logs/vitest.json") >"$logs/vitest.log" 2>&1
node -e 'const r = require(process.argv[1]);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' \
    "$PWD/$logs/vitest.json" >>"$logs/vitest.log" 2>&1
sed 's/\x1b\[[0-9;]*m//g' "$logs/vitest.log" | grep -E '✓|×|FAIL|passed|failed' | tail -n 40
add "$logs/vitest.log"

echo "== specs of moonwire.static"
"$bin" test tests/editor/static_spec.lua >"$logs/static.log" 2>&1
grep -E '^(ok|not ok|#)' "$logs/static.log"
add "$logs/static.log"

echo "== browser tests"
node tests/editor/editor.test.mjs "$bin" 2>&1 | tee "$logs/browser.log"
add "$logs/browser.log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
