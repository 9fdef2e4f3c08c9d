#!/usr/bin/env bash
# Runs the benchmark suite (docs/benchmarks.md): builds the benchmarks
# (Release), then runs the micro benchmarks and the macro benchmarks (main
# table and scaling table), each with repetitions and random interleaving so
# that variants alternate. Console output and Google Benchmark JSON go to
# the results folder; each console log ends with a summary table (medians,
# ratios to the baseline of the same run).
#
#   scripts/bench.sh                 # the full suite (6 min on a quiet 2-core machine)
#   scripts/bench.sh --quick         # sizes 1024 and 3500 only, 3 repetitions
#   scripts/bench.sh --smoke         # every benchmark once, tiny sizes (seconds)
#   scripts/bench.sh --only macro    # one part: micro, macro, scaling, roofline
#
# Environment: BUILD_DIR (default: build-bench), OUT_DIR (default:
# BUILD_DIR/bench-results/<date>), EOSCALE_BENCH_CACHE (input data cache,
# default ~/.cache/eoscale; the 10980 px water mask needs about 4 GB there,
# and the keep_all variant about 5 GB of RAM).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
only=""
repetitions=""
sizes=""
build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --only) only="$2"; shift ;;
    --repetitions) repetitions="$2"; shift ;;
    --sizes) sizes="$2"; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

BUILD_DIR="${BUILD_DIR:-build-bench}"
OUT_DIR="${OUT_DIR:-$BUILD_DIR/bench-results/$(date +%Y%m%d-%H%M%S)}"
targets=(scheduling_benchmark buffer_pool_benchmark filters_benchmark gdal_io_benchmark macro_benchmark roofline
  process_floor)

if [[ $build -eq 1 ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEOSCALE_BUILD_BENCHMARKS=ON >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${targets[@]}"
fi
mkdir -p "$OUT_DIR"
bin="$BUILD_DIR/bench"

case "$mode" in
  full)  reps="${repetitions:-5}"; micro_reps="${repetitions:-3}"; macro_sizes="${sizes:-1024,3500,10980}" ;;
  quick) reps="${repetitions:-3}"; micro_reps="${repetitions:-3}"; macro_sizes="${sizes:-1024,3500}" ;;
  smoke) reps=1; micro_reps=1; macro_sizes="" ;;
esac

{
  echo "date:     $(date -Iseconds)"
  echo "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
  echo "mode:     $mode, repetitions $reps (micro $micro_reps)"
} | tee "$OUT_DIR/context.txt"

# run NAME BINARY [ARGS...]: console to NAME.txt, JSON to NAME.json.
run() {
  local name="$1"; shift
  echo
  echo "=== $name: $* (load $(cut -d' ' -f1 /proc/loadavg))"
  "$@" --benchmark_out="$OUT_DIR/$name.json" --benchmark_out_format=json 2>&1 | tee "$OUT_DIR/$name.txt"
}

smoke_args=()
[[ $mode == smoke ]] && smoke_args=(--smoke --benchmark_min_time=0.001)
interleave=(--benchmark_enable_random_interleaving=true)

if [[ -z $only || $only == micro ]]; then
  for b in scheduling_benchmark buffer_pool_benchmark filters_benchmark gdal_io_benchmark; do
    run "$b" "$bin/$b" "${smoke_args[@]}" --benchmark_repetitions="$micro_reps" \
      --benchmark_report_aggregates_only=true "${interleave[@]}"
  done
fi

macro_args=()
if [[ $mode == smoke ]]; then
  macro_args=(--smoke)
else
  macro_args=(--sizes="$macro_sizes")
fi
if [[ -z $only || $only == macro ]]; then
  run macro "$bin/macro_benchmark" "${macro_args[@]}" --benchmark_filter='^(water_mask|pipeline)/' \
    --benchmark_repetitions="$reps" "${interleave[@]}"
fi
if [[ -z $only || $only == scaling ]]; then
  run scaling "$bin/macro_benchmark" "${macro_args[@]}" --benchmark_filter='^scaling/' \
    --benchmark_repetitions="$reps" "${interleave[@]}"
fi

# The machine's limits for the macro workloads' bytes, on the inputs the
# macro runs cached (docs/benchmarks.md, "Roofline").
if [[ ( -z $only || $only == roofline ) && $mode != smoke ]]; then
  cache="${EOSCALE_BENCH_CACHE:-$HOME/.cache/eoscale}"
  {
    for size in ${macro_sizes//,/ }; do
      d="$cache/s2_like_${size}px_4dates"
      dsm="$cache/synthetic_dsm_${size}px/dsm.tif"
      if compgen -G "$d/date_*.tif" >/dev/null; then
        echo "--- water mask ${size}px: bands 2 and 4 of 4 read, 1 byte per pixel written"
        "$bin/roofline" --read-fraction 0.5 --write-bytes $((size * size)) --out-dir "$OUT_DIR" "$d"/date_*.tif
      fi
      if [[ -f $dsm ]]; then
        echo "--- pipeline ${size}px: the DSM read, 9 bytes per pixel written (mask, filled, smoothed)"
        "$bin/roofline" --write-bytes $((size * size * 9)) --out-dir "$OUT_DIR" "$dsm"
      fi
    done
    echo "--- process floor (GDAL and oneTBB loaded, nothing done): wall and peak RSS"
    TIMEFORMAT='wall %R s'
    time "$bin/process_floor"
  } 2>&1 | tee "$OUT_DIR/roofline.txt"
fi

echo
echo "results in $OUT_DIR (load at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
