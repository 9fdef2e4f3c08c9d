#!/usr/bin/env bash
# Builds and runs the tests under a sanitizer.
#
#   bash scripts/sanitize.sh asan   # ASan + UBSan, the whole test suite, leaks on
#   bash scripts/sanitize.sh tsan   # TSan (clang), the whole test suite
#
# Build folder: build-asan/ or build-tsan/ (EOSCALE_SANITIZE_BUILD_DIR overrides).
# Suppressions (third-party internals only, each with its reason) are in
# tests/sanitizers/. Any report fails the run (halt_on_error).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
mode="${1:?usage: sanitize.sh asan|tsan}"
jobs="$(nproc)"
supp="$root/tests/sanitizers"

case "$mode" in
  asan) sanitize="address,undefined" ;;
  tsan) sanitize="thread" ;;
  *) echo "unknown mode '$mode' (asan or tsan)" >&2; exit 2 ;;
esac
build="${EOSCALE_SANITIZE_BUILD_DIR:-build-$mode}"

extra=()
if [ "$mode" = tsan ]; then
  # clang: Debian's oneTBB is not built with TSan, and clang's compile-time
  # ignorelist (tests/sanitizers/tsan_ignorelist.txt, cmake/Sanitizers.cmake)
  # leaves oneTBB's header internals unchecked; graph/tsan_annotations.h
  # states the ordering oneTBB guarantees to our code. GCC has no ignorelist.
  # EOSCALE_NO_TARGET_CLONES: see scripts/fuzz.sh.
  bash scripts/deps.sh clang-14 libclang-rt-14-dev
  extra=(-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS="-DEOSCALE_NO_TARGET_CLONES")
else
  bash scripts/deps.sh
fi
# -O1: fast enough to run, quick to compile, precise stacks. Warnings are not
# errors here: GCC's manual warns that sanitizers raise false positives of
# -Wmaybe-uninitialized (seen in libstdc++'s <regex>); the normal build keeps
# -Werror.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DEOSCALE_SANITIZE="$sanitize" -DEOSCALE_WERROR=OFF -DEOSCALE_WITH_MPI=OFF "${extra[@]}" >/dev/null

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:suppressions=$supp/asan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0"
# Under TSan the random graphs run 5-15 times slower: a third of the cases.
if [ "$mode" = tsan ]; then export EOSCALE_RANDOM_GRAPH_CASES="${EOSCALE_RANDOM_GRAPH_CASES:-100}"; fi

# Both modes run the whole suite: under TSan too, since the filters' tests,
# the examples and the tutorials run the engine with several workers.
cmake --build "$build" -j"$jobs"
cd "$build"
ctest --output-on-failure -j"$jobs" --timeout 1200
