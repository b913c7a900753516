#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The style checks CI runs: no tabs, lines at most 100 columns, an SPDX
# line near the top of every source file, and no loose markers (see STYLE).
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
files=$(git ls-files '*.c' '*.h' '*.lua' '*.py' '*.sh' 2>/dev/null)
for f in $files; do
    [ -f "$f" ] || continue
    if grep -q $'\t' "$f"; then
        echo "$f: contains a tab"; bad=1
    fi
    awk -v f="$f" 'length($0) > 100 { print f ":" FNR ": longer than 100 columns"; b=1 }
                   END { exit b }' "$f" || bad=1
    head -n 6 "$f" | grep -q 'SPDX-License-Identifier' || {
        echo "$f: no SPDX line in the first lines"; bad=1; }
    if grep -nE '\b(X''XX|FIX''ME)\b' "$f"; then bad=1; fi
done
# Lua modules read and write no globals beyond LuaJIT's own: a misspelt
# or misplaced local shows up here, not as a nil at run time.
lua_globals=" $(echo _G assert bit collectgarbage coroutine debug error getmetatable io \
    ipairs jit load loadfile loadstring math next os pairs pcall rawequal rawget rawlen \
    rawset require select setfenv setmetatable string table tonumber tostring type unpack \
    xpcall) "
if command -v luajit >/dev/null; then
    for f in $(git ls-files 'lua/*.lua' 'nodes/*.lua' 'contrib/nodes/*.lua' | grep -v '/spec/'); do
        for g in $(luajit -bl "$f" | awk '$2 == "GGET" || $2 == "GSET" { print $NF }' \
                   | tr -d '"' | sort -u); do
            case "$lua_globals" in
                *" $g "*) ;;
                *) echo "$f: uses the global '$g' (a missing local?)"; bad=1 ;;
            esac
        done
    done
fi
[ $bad -eq 0 ] && echo "style: ok"
exit $bad
