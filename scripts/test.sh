#!/usr/bin/env bash
# test.sh: installs what is missing, builds with ASan+UBSan and warnings as errors, and
# runs every test (CUnit unit tests, then integration tests against a real ZooKeeper and
# real zkv processes), then a short run of every libFuzzer target (scripts/fuzz.sh short,
# clang, build-fuzz/). Extra arguments go to both ctest runs (e.g. -L unit, -R restart,
# -L fuzz).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
dir="$("$root/scripts/build.sh" asan | tail -n 1)"
# zookeeper_mt keeps a few allocations alive for the process lifetime; LeakSanitizer
# checks our code, and the suppressions file names what is not ours.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$dir"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" "$@"
# Each fuzz target for 10 s (ZKV_FUZZ_SECONDS); a crash or a differential finding fails.
"$root/scripts/fuzz.sh" short "$@"
