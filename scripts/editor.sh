#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the web editor's npm packages and builds it into
# contrib/editor/dist, which `moonwire serve` serves at /. Does nothing
# when dist is newer than every source. Needs Node.js 20.19+ and npm.
# Usage: scripts/editor.sh [--optional]   (--optional: without Node.js,
# warn and exit 0, leaving the daemon to say at / that the editor is
# not built)
set -euo pipefail
cd "$(dirname "$0")/../contrib/editor"

optional=0
[ "${1:-}" = "--optional" ] && optional=1

need_node() {
    echo "editor.sh: $1" >&2
    if [ $optional -eq 1 ]; then
        echo "editor.sh: skipping the editor; the daemon runs without it" >&2
        exit 0
    fi
    exit 1
}

command -v node >/dev/null && command -v npm >/dev/null \
    || need_node "Node.js and npm are needed to build the editor"
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
         process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
    || need_node "Node.js 20.19 or newer is needed (found $(node --version))"

# newer_than FILE PATH...: true when FILE exists and is newer than
# every file under the PATHs
newer_than() {
    local file=$1
    shift
    [ -e "$file" ] || return 1
    [ -z "$(find "$@" -newer "$file" -type f -print -quit 2>/dev/null)" ]
}

if ! newer_than node_modules/.package-lock.json package.json package-lock.json; then
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm install --no-audit --no-fund --loglevel=error
    fi
fi

sources=(src index.html package.json package-lock.json tsconfig.json vite.config.ts)
if newer_than dist/index.html "${sources[@]}"; then
    echo "editor: dist is up to date"
    exit 0
fi
npm run --silent build
echo "editor: built into contrib/editor/dist"
