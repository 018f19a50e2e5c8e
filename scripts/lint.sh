#!/usr/bin/env bash
# lint.sh: clang-format check, clang-tidy and cppcheck over the project's C sources.
# Uses build/compile_commands.json (run scripts/build.sh first), and build-fuzz/'s for
# tests/fuzz when scripts/fuzz.sh made it. Exit 1 on findings.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mapfile -t files < <(git ls-files '*.c' '*.h')
status=0
echo "== clang-format" >&2
clang-format --dry-run --Werror "${files[@]}" || status=1
echo "== cppcheck" >&2
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
  --inline-suppr --suppress=missingIncludeSystem -I common/include -I client/include \
  -D__GNUC__ -DTHREADED "${files[@]}" || status=1
if [ -f build/compile_commands.json ]; then
  echo "== clang-tidy" >&2
  mapfile -t cfiles < <(git ls-files '*.c' ':!tests/fuzz')
  clang-tidy -p build --quiet "${cfiles[@]}" 2>/dev/null | grep -E "warning:|error:" && status=1
fi
# tests/fuzz is only in the clang fuzz build (scripts/fuzz.sh makes build-fuzz/).
mapfile -t ffiles < <(git ls-files 'tests/fuzz/*.c')
if [ -f build-fuzz/compile_commands.json ] && [ "${#ffiles[@]}" -gt 0 ]; then
  clang-tidy -p build-fuzz --quiet "${ffiles[@]}" 2>/dev/null | grep -E "warning:|error:" && status=1
fi
exit $status
