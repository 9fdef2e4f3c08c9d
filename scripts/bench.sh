#!/usr/bin/env bash
# Runs the benchmark suite (docs/benchmarks.md): builds the benchmarks
# (Release), then runs the micro benchmarks and the macro benchmarks (main
# table, scaling table, size sweep, input layouts), each with repetitions and
# random interleaving so that variants alternate. Console output and Google
# Benchmark JSON go to the results folder; each console log ends with a
# summary table (medians, ratios to the baseline of the same run); the sweep
# and inputs logs end with a second one computed from the JSON (python3).
#
#   scripts/bench.sh                 # the full suite (about 30 min on a quiet 2-core machine, plus
#                                    # about 5 min to derive the inputs the first time)
#   scripts/bench.sh --quick         # sizes 1024 and 3500 only, 3 repetitions
#   scripts/bench.sh --smoke         # every benchmark once, tiny sizes (seconds)
#   scripts/bench.sh --only macro    # one part: micro, macro, scaling, sweep, inputs, roofline
#   sweep:  water mask and pipeline, engine (durable and not) and plain, 2 workers, at 1024, 3500,
#           10980 and 21960 px (a 2 x 2 VRT mosaic of 10980): Mpx/s and peak RSS
#           per size (--sweep-sizes LIST)
#   inputs: the water mask on pixel-interleaved, DEFLATE and JPEG 2000 inputs at
#           1 and 2 workers (GDAL_NUM_THREADS=1): speed-up and engine/plain per
#           layout; pixel and deflate at 10980 px (--inputs-size N), jp2 at 3500
#           (--jp2-size N)
#
# Environment: BUILD_DIR (default: build-bench), OUT_DIR (default:
# BUILD_DIR/bench-results/<date>), EOSCALE_BENCH_CACHE (input data cache,
# default ~/.cache/eoscale; the 10980 px water mask needs about 4 GB there,
# its deflate and pixel copies about 6 GB more, and the keep_all variant
# about 5 GB of RAM).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
only=""
repetitions=""
sizes=""
sweep_sizes=""
inputs_size=""
jp2_size=""
build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --only) only="$2"; shift ;;
    --repetitions) repetitions="$2"; shift ;;
    --sizes) sizes="$2"; shift ;;
    --sweep-sizes) sweep_sizes="$2"; shift ;;
    --inputs-size) inputs_size="$2"; shift ;;
    --jp2-size) jp2_size="$2"; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
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
  full)  reps="${repetitions:-5}"; micro_reps="${repetitions:-3}"; macro_sizes="${sizes:-1024,3500,10980}"
         sweep_sizes="${sweep_sizes:-1024,3500,10980,21960}"; inputs_size="${inputs_size:-10980}"
         jp2_size="${jp2_size:-3500}" ;;
  quick) reps="${repetitions:-3}"; micro_reps="${repetitions:-3}"; macro_sizes="${sizes:-1024,3500}"
         sweep_sizes="${sweep_sizes:-1024,3500}"; inputs_size="${inputs_size:-3500}"; jp2_size="${jp2_size:-2048}" ;;
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

# summarize sweep|inputs NAME: a table computed from NAME.json (medians of the
# repetitions), appended to NAME.txt.
summarize() {
  python3 - "$1" "$OUT_DIR/$2.json" <<'PY' | tee -a "$OUT_DIR/$2.txt"
import json, re, statistics, sys
kind, path = sys.argv[1], sys.argv[2]
runs = {}
for b in json.load(open(path))["benchmarks"]:
    if b.get("run_type") == "aggregate" or b.get("error_occurred"):
        continue
    name = b["run_name"].split("/iterations:")[0]
    runs.setdefault(name, []).append(b)
def med(name, key):
    return statistics.median(r[key] for r in runs[name])
def sec(name):  # manual time in seconds
    return statistics.median(r["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}[r["time_unit"]]
                             for r in runs[name])
def dev(v, ref):
    return f"{100 * (v / ref - 1):+.0f} %"
if kind == "sweep":
    print("\nSweep (item 4: time per Mpx within +-15 % across sizes, peak RSS flat within +-10 %;")
    print("deviations from the median over sizes; 'marginal' is the time per Mpx from the size")
    print("before, (wall - wall before) / (Mpx - Mpx before): the run's fixed costs left out)\n")
    print("| workload | variant | size | Mpx/s | ms/Mpx | ms/Mpx vs median | marginal ms/Mpx | wall / plain "
          "| peak RSS MiB | RSS vs median |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    groups = {}
    for name in runs:
        m = re.match(r"^(water_mask|pipeline)/(\d+)px/workers:\d+/(\w+)$", name)
        if m:
            groups.setdefault((m[1], m[3]), []).append((int(m[2]), name))
    verdicts = []
    for (w, v), sizes in sorted(groups.items()):
        sizes.sort()
        ms = {s: 1e3 / med(n, "Mpx/s") for s, n in sizes}
        rss = {s: med(n, "peak_RSS_MiB") for s, n in sizes}
        ms_ref, rss_ref = statistics.median(ms.values()), statistics.median(rss.values())
        marginal = {}
        for (s0, n0), (s1, n1) in zip(sizes, sizes[1:]):
            marginal[s1] = 1e3 * (sec(n1) - sec(n0)) / ((s1 * s1 - s0 * s0) / 1e6)
        m_ref = statistics.median(marginal.values()) if marginal else None
        for s, n in sizes:
            plain = re.sub(r"/\w+$", "/plain", n)
            ratio = f"{sec(n) / sec(plain):.2f}" if plain in runs and plain != n else ""
            marg = f"{marginal[s]:.2f}" if s in marginal else ""
            print(f"| {w} | {v} | {s} | {med(n, 'Mpx/s'):.1f} | {ms[s]:.1f} | {dev(ms[s], ms_ref)} | {marg} | {ratio} | "
                  f"{rss[s]:.0f} | {dev(rss[s], rss_ref)} |")
        t_spread = max(abs(x / ms_ref - 1) for x in ms.values()) * 100
        r_spread = max(abs(x / rss_ref - 1) for x in rss.values()) * 100
        m_spread = max(abs(x / m_ref - 1) for x in marginal.values()) * 100 if m_ref else 0
        verdicts.append(f"{w} {v}: time/Mpx within {t_spread:.0f} % ({'ok' if t_spread <= 15 else 'MISSED'}), "
                        f"marginal time/Mpx within {m_spread:.0f} % ({'ok' if m_spread <= 15 else 'MISSED'}), "
                        f"peak RSS within {r_spread:.0f} % ({'ok' if r_spread <= 10 else 'MISSED'})")
    print()
    print("\n".join(verdicts))
else:
    print("\nInputs (item 5: speed-up from 1 to 2 workers >= 1.8, engine/plain at 2 workers <= 1.0)\n")
    print("| layout | size | variant | wall 1 worker | wall 2 workers | speed-up | engine/plain at 2 |")
    print("|---|---:|---|---:|---:|---:|---:|")
    walls = {}
    for name in runs:
        m = re.match(r"^inputs/water_mask/(\w+)/(\d+)px/workers:(\d+)/(\w+)$", name)
        if m:
            walls[(m[1], int(m[2]), m[4], int(m[3]))] = sec(name)
    for layout, size, variant in sorted({k[:3] for k in walls}, key=lambda k: (k[0], k[1], k[2] != "plain")):
        w1, w2 = walls.get((layout, size, variant, 1)), walls.get((layout, size, variant, 2))
        up = f"{w1 / w2:.2f}" if w1 and w2 else ""
        p2 = walls.get((layout, size, "plain", 2))
        ratio = f"{w2 / p2:.2f}" if variant.startswith("engine") and w2 and p2 else ""
        fmt = lambda x: f"{x:.3f} s" if x else ""
        print(f"| {layout} | {size} | {variant} | {fmt(w1)} | {fmt(w2)} | {up} | {ratio} |")
PY
}

# Item 4: time linear in pixels, memory flat (engine and plain, 2 workers).
if [[ -z $only || $only == sweep ]]; then
  sweep_args=(--smoke)
  [[ $mode != smoke ]] && sweep_args=(--sizes="$sweep_sizes")
  run sweep "$bin/macro_benchmark" "${sweep_args[@]}" --workers=2 \
    --benchmark_filter='^(water_mask|pipeline)/[0-9]+px/workers:2/(plain|engine|engine_nosync)/' \
    --benchmark_repetitions="$reps" "${interleave[@]}"
  summarize sweep sweep
fi

# Item 5: compressed and JPEG 2000 inputs, 1 and 2 workers, GDAL's own
# threads off so that the workers are the only parallelism.
if [[ -z $only || $only == inputs ]]; then
  inputs_args=(--smoke)
  [[ $mode != smoke ]] && inputs_args=(--inputs_size="$inputs_size" --jp2_size="$jp2_size")
  run inputs "$bin/macro_benchmark" "${inputs_args[@]}" --layouts=pixel,deflate,jp2 --inputs_workers=1,2 \
    --gdal_num_threads=1 --benchmark_filter='^inputs/' --benchmark_repetitions="$reps" "${interleave[@]}"
  summarize inputs inputs
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
