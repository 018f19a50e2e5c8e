#!/usr/bin/env bash
# build.sh [release|asan]: configures and builds zkv into build/ (release, the default)
# or build-asan/ (ASan+UBSan, warnings as errors, used by the tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kind="${1:-release}"
jobs="$(nproc 2>/dev/null || echo 2)"
case "$kind" in
  release) dir="$root/build"; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir="$root/build-asan"; flags=(-DCMAKE_BUILD_TYPE=Debug -DZKV_SANITIZE=ON -DZKV_WERROR=ON) ;;
  *) echo "usage: build.sh [release|asan]" >&2; exit 2 ;;
esac
cmake -S "$root" -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
echo "$dir"
