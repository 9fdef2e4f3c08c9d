#!/usr/bin/env bash
# The reliability checks CI runs after the normal build and tests:
#   1. the whole test suite under ASan + UBSan (leaks on, halt on error);
#   2. the whole test suite under TSan (clang; docs/fuzzing.md says how
#      Debian's uninstrumented oneTBB is handled);
#   3. every libFuzzer target for FUZZ_SECONDS (default 60) on its seed corpus.
# Every step runs even if an earlier one failed; the exit code is non-zero if
# any failed. Build folders: build-asan/, build-tsan/, build-fuzz/.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds="${FUZZ_SECONDS:-60}"
names=()
results=()
times=()
step() {
  local name="$1"
  shift
  echo
  echo "=== reliability: $name"
  local start=$SECONDS
  if "$@"; then results+=("passed"); else results+=("FAILED"); fi
  names+=("$name")
  times+=("$((SECONDS - start))")
}
step "asan+ubsan, whole test suite" bash scripts/sanitize.sh asan
step "tsan, whole test suite" bash scripts/sanitize.sh tsan
step "fuzzing, ${fuzz_seconds} s per target" bash scripts/fuzz.sh "$fuzz_seconds"

echo
passed=0
failed=0
for i in "${!names[@]}"; do
  printf '%-40s %-7s %5d s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  if [ "${results[$i]}" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "reliability: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
