#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job on its defaults: starts the stand-in ticketing system
# (../shared/tools/target.py) on loopback and runs the reference example
# (contrib/examples/create-update.json) on a real incident twice: the first
# share creates a ticket, the second updates it through the saved ID.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${MOONWIRE_SHARED:-../shared}
bin=${MOONWIRE_BIN:-build/moonwire}
work=$(mktemp -d)
trap 'kill "$tpid" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 "$shared/tools/target.py" >"$work/port" &
tpid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -n1 "$work/port")
if [ -z "$port" ]; then
    echo "demo: the target ($shared/tools/target.py) did not start;" \
         "set MOONWIRE_SHARED to the shared/ folder" >&2
    exit 1
fi
base="http://127.0.0.1:$port"
share="$shared/data/payloads/bigpanda-incident-new.json"

echo "== target on $base; running the example twice on $share"
"$bin" run contrib/examples/create-update.json "$share" "$share" \
    --db "$work/moonwire.db" --set "integration.base_url=$base"
echo "== what the target received"
curl -s "$base/_requests" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["method"], r["path"], r["body"][:100] + "...")'
