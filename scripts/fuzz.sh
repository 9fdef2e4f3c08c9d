#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a
# bounded time on its seed corpus (tests/fuzz/corpus/<target>/).
#
#   bash scripts/fuzz.sh              # every target, 60 s each (what CI runs)
#   bash scripts/fuzz.sh 600          # every target, 10 minutes each
#   bash scripts/fuzz.sh 3600 tiler   # one target (fuzz_tiler), an hour
#
# Build folder: build-fuzz/ (EOSCALE_FUZZ_BUILD_DIR overrides). New inputs
# the fuzzer finds go to <build>/corpus/<target>/ (kept between runs, never
# into the repository); a crash leaves <build>/artifacts/<target>/crash-*,
# which reproduces with `<build>/tests/fuzz/fuzz_<target> FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
seconds="${1:-60}"
only="${2:-}"
build="${EOSCALE_FUZZ_BUILD_DIR:-build-fuzz}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
supp="$root/tests/sanitizers"

bash scripts/deps.sh clang-14 libclang-rt-14-dev libfuzzer-14-dev
# EOSCALE_NO_TARGET_CLONES: filters/expression.cc compiles its row loops
# twice (AVX2 and baseline) with GCC's target_clones, which clang 14 does not
# support on function templates; one baseline version is what we fuzz.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DEOSCALE_FUZZ=ON -DEOSCALE_WITH_MPI=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_FLAGS="-DEOSCALE_NO_TARGET_CLONES" \
  -DEOSCALE_BUILD_TESTS=OFF -DEOSCALE_BUILD_BENCHMARKS=OFF -DEOSCALE_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target eoscale_fuzzers

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:suppressions=$supp/asan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"

targets=()
for seeds in "$root"/tests/fuzz/corpus/*/; do
  t="$(basename "$seeds")"
  [ -n "$only" ] && [ "$t" != "$only" ] && continue
  if [ ! -x "$build/tests/fuzz/fuzz_$t" ]; then
    echo "== fuzz_$t: not built (its code is not in this tree), skipped"
    continue
  fi
  targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz target to run" >&2; exit 2; }

status=0
summary=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log="$build/fuzz_$t.log"
  # Inputs that reach a suppressed third-party finding are replayed once, not
  # fuzzed from: each would cost libFuzzer a full leak scan per mutation
  # (measured: 4x fewer executions with the HDF4 one in the corpus).
  replay=("$root/tests/fuzz/replay/$t"/*)
  if [ -e "${replay[0]}" ]; then
    echo "== fuzz_$t: replaying ${#replay[@]} input(s) of tests/fuzz/replay/$t"
    if ! TMPDIR="$artifacts" "$build/tests/fuzz/fuzz_$t" "${replay[@]}" >"$build/replay_$t.log" 2>&1; then
      grep -E "ERROR|contract broken|SUMMARY" "$build/replay_$t.log" | head -20 || true
      summary+=("fuzz_$t: replay of tests/fuzz/replay/$t FAILED")
      status=1
      continue
    fi
  fi
  echo "== fuzz_$t: ${seconds} s"
  # -timeout: one input may not take more than 10 s; -rss_limit_mb: nor 2 GiB.
  # The TMPDIR holds the open_raster target's scratch file.
  if TMPDIR="$artifacts" "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    result="ok"
  else
    result="FAILED"
    status=1
    grep -E "ERROR|contract broken|SUMMARY|Test unit written" "$log" | head -20 || true
  fi
  runs="$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' | tail -1 || true)"
  secs="$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | awk '{print $5}' | tail -1 || true)"
  cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)"
  files="$(find "$corpus" -type f | wc -l)"
  summary+=("fuzz_$t: $result, ${runs:-?} executions in ${secs:-$seconds} s, coverage ${cov:-?} edges, corpus $files inputs")
done
printf '%s\n' "${summary[@]}"
exit $status
