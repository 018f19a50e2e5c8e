#!/usr/bin/env bash
# fuzz.sh: builds the libFuzzer targets of tests/fuzz with clang into build-fuzz/ and runs
# them (docs/fuzzing.md).
#   fuzz.sh short [CTEST ARGS...]  every target for $ZKV_FUZZ_SECONDS (default 10) seconds,
#                                  two at a time, as ctest tests labelled "fuzz"; run by
#                                  scripts/test.sh; fails when a target finds anything
#   fuzz.sh long [SECONDS] [TARGET...]  each target (default: all) for SECONDS (default 300),
#                                  one after the other, then a table of executions, exec/s,
#                                  corpus size and findings for docs/fuzzing.md
#   fuzz.sh corpus                 rewrites the seed corpus tests/fuzz/corpus from its
#                                  generator (tests/fuzz/gen_corpus.c)
#   fuzz.sh merge TARGET           adds to tests/fuzz/corpus/TARGET the inputs of the runs in
#                                  build-fuzz that reach new coverage (keep it small)
# New inputs go to build-fuzz/tests/fuzz/corpus/<target>, crashes to .../artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/build-fuzz"
fdir="$dir/tests/fuzz"
targets=(frame request response append znode tokenize)
mode="${1:-short}"
[ "$#" -gt 0 ] && shift

build() {
  CC="${CC_FUZZ:-clang}" cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DZKV_FUZZ=ON -DZKV_BUILD_TESTS=OFF -DZKV_WERROR=ON \
    -DZKV_FUZZ_SECONDS="${ZKV_FUZZ_SECONDS:-10}" >/dev/null
  cmake --build "$dir" --target fuzz fuzz_gen_corpus -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
}

# final_stat NAME LOG: the last value libFuzzer printed for stat::NAME
final_stat() { grep -E "^stat::$1:" "$2" | tail -n 1 | awk '{print $2}'; }

case "$mode" in
  short)
    build
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    ctest --test-dir "$dir" -L fuzz --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" "$@"
    ;;
  long)
    secs="${1:-300}"
    [ "$#" -gt 0 ] && shift
    [ "$#" -gt 0 ] && targets=("$@")
    build
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    mkdir -p "$fdir/logs"
    status=0
    echo "| target | seconds | executions | exec/s | corpus (seeds + new) | coverage | findings |"
    echo "|---|---|---|---|---|---|---|"
    for t in "${targets[@]}"; do
      log="$fdir/logs/$t.log"
      mkdir -p "$fdir/corpus/$t" "$fdir/artifacts"
      rc=0
      "$fdir/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$fdir/artifacts/$t-" \
        "$fdir/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
      seeds=$(find "$root/tests/fuzz/corpus/$t" -type f | wc -l)
      found=$(find "$fdir/corpus/$t" -type f | wc -l)
      cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
      findings=0
      [ "$rc" -ne 0 ] && { findings=1; status=1; }
      echo "| $t | $secs | $(final_stat number_of_executed_units "$log") |" \
        "$(final_stat average_exec_per_sec "$log") | $seeds + $found | ${cov:-?} | $findings |"
    done
    exit $status
    ;;
  corpus)
    build
    "$fdir/fuzz_gen_corpus" "$root/tests/fuzz/corpus"
    du -sh "$root/tests/fuzz/corpus"
    ;;
  merge)
    t="${1:?usage: fuzz.sh merge TARGET}"
    build
    "$fdir/fuzz_$t" -merge=1 "$root/tests/fuzz/corpus/$t" "$fdir/corpus/$t"
    du -sh "$root/tests/fuzz/corpus"
    ;;
  *)
    echo "usage: fuzz.sh short [CTEST ARGS...] | long [SECONDS] [TARGET...] | corpus | merge TARGET" >&2
    exit 2
    ;;
esac
