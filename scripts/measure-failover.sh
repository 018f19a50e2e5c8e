#!/usr/bin/env bash
# measure-failover.sh [--session-timeout MS] [--trials N] [--servers N]: measures owner
# failover (issue 3): a real ZooKeeper, 3 zkv-servers and a coordinator on loopback; each
# trial kill -9s the owner of a range while a writer hammers it and measures the time until
# a write to that range succeeds again; then restarts the node and waits until it rejoins
# in_sync. Prints every trial, the median and the max (tests/integration/measure_failover.c).
#
# Builds the release tree first (scripts/build.sh release) unless ZKV_BUILD_DIR names an
# existing build directory. Defaults: --session-timeout 2000 --trials 10.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${ZKV_BUILD_DIR:-}" ]; then
  dir="$ZKV_BUILD_DIR"
  cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target zkv-measure-failover \
    zkv-server zkv-coordinator >/dev/null
else
  dir="$("$root/scripts/build.sh" release | tail -n 1)"
fi
prog="$dir/tests/integration/zkv-measure-failover"
[ -x "$prog" ] || { echo "measure-failover: $prog was not built" >&2; exit 1; }
export ZKV_SERVER_BIN="$dir/server/zkv-server"
export ZKV_COORDINATOR_BIN="$dir/coordinator/zkv-coordinator"
# Leak reports of a sanitizer build must not turn a measurement into a failure.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) CPUs:" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# $prog $*"
exec "$prog" "$@"
