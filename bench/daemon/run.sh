#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon benchmark (issue 3): installs nginx and wrk if missing, builds
# moonwire if needed, then hands over to bench.py, which runs the target,
# the daemon and the load. Ends every process it started, even on failure.
#
#   bench/daemon/run.sh [--duration S] [--connections 1,64] [--burst N]
#                       [--json FILE] [--moonwire PATH] [--drain-timeout S]
#
# Environment: MOONWIRE (binary; default build/moonwire, built when
# missing), BENCH_WORK (scratch dir; default a fresh mktemp dir, removed
# afterwards unless BENCH_KEEP=1).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

need_install=()
command -v nginx >/dev/null 2>&1 || need_install+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need_install+=(wrk)
command -v taskset >/dev/null 2>&1 || need_install+=(util-linux)
command -v python3 >/dev/null 2>&1 || need_install+=(python3)
if ((${#need_install[@]})); then
    echo "installing ${need_install[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx-light is gone from newer Debian releases; plain nginx will do.
    if ! apt-get install -y -qq --no-install-recommends "${need_install[@]}" >&2; then
        apt-get install -y -qq --no-install-recommends \
            "${need_install[@]/nginx-light/nginx}" >&2
    fi
fi

if [ "$(nproc)" -lt 2 ]; then
    echo "warning: fewer than 2 CPUs; daemon and load will share a core" >&2
fi

moonwire=${MOONWIRE:-$root/build/moonwire}
if [ ! -x "$moonwire" ]; then
    echo "building $moonwire" >&2
    bdir=$(dirname "$moonwire")
    cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
    make -C "$bdir" -j"$(nproc)" moonwire >&2
fi

work=${BENCH_WORK:-$(mktemp -d /tmp/mw-bench.XXXXXX)}
mkdir -p "$work"

# bench.py stops what it starts; this is the backstop when it cannot
# (killed, crashed): each pid it recorded, and only those.
driver=
cleanup() {
    local rc=$? pid name
    trap - INT TERM
    if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
        kill -TERM "$driver" 2>/dev/null || true
        wait "$driver" 2>/dev/null || true
    fi
    if [ -f "$work/pids" ]; then
        while read -r pid name; do
            # The pid must still be ours: same program, not a reused pid.
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${name%%-*}" ] || continue
            if kill -0 "$pid" 2>/dev/null; then
                echo "cleanup: stopping $name (pid $pid)" >&2
                kill -TERM "$pid" 2>/dev/null || true
            fi
        done <"$work/pids"
        sleep 1
        while read -r pid name; do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${name%%-*}" ] || continue
            kill -KILL "$pid" 2>/dev/null || true
        done <"$work/pids"
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "logs and data kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# In the background and waited for, so that a signal reaches the trap
# at once rather than after the driver ends.
python3 "$here/bench.py" --moonwire "$moonwire" --work "$work" "$@" &
driver=$!
wait "$driver"
