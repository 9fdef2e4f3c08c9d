#!/usr/bin/env bash
# 2 ranks x 1 worker against 1 process x 2 workers, the water mask and the
# pipeline at SIZE^2 (default 10980), in the same invocation, alternated,
# REPS times (default 3). Prints the program's run time ("wall seconds" /
# the pipeline's "in N s"), the whole process's wall time and every rank's
# peak RSS (GNU time's %M). docs/distributed.md has the figures.
# Inputs: the benchmarks' cache (docs/benchmarks.md) for the 4 dates, and a
# synthetic DSM generated into $OUT (default /tmp/eoscale-bench-mpi).
# With DEFLATE=1 in the environment, every .tif output is DEFLATE-compressed
# (--co COMPRESS=DEFLATE) and the 2-rank .tif runs twice: tiles sent to rank
# 0 during the run (MPI_THREAD_MULTIPLE), and rank 0's assembly from the
# parts after it (EOSCALE_MPI_THREAD=funneled, the way before).
# Usage: scripts/bench_mpi.sh [SIZE] [REPS]    (after a build with MPI in ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-10980}
reps=${2:-3}
out=${OUT:-/tmp/eoscale-bench-mpi}
cache=${EOSCALE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eoscale}
dates="$cache/s2_like_${size}px_4dates"
mkdir -p "$out"
[ -f "$dates/date_4.tif" ] || build/examples/s2_like/make_s2_like "$dates" --size "$size" --dates 4
[ -f "$out/dsm_$size.tif" ] || build/examples/s2_like/make_synthetic_dsm "$out/dsm_$size.tif" --width "$size" --height "$size"
cat "$dates"/date_*.tif "$out/dsm_$size.tif" >/dev/null  # the page cache, not the disk
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
mpi=(mpirun -n 2 --oversubscribe --bind-to none "${root[@]}")
tm=(/usr/bin/time -f "  rank peak RSS %M KiB, process wall %e s")
wm=build/examples/water_mask/water_mask
pl=build/examples/pipeline/pipeline
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${DEFLATE:-0}" = 1 ]; then
  co=(--co COMPRESS=DEFLATE)
  fun=(-x EOSCALE_MPI_THREAD=funneled)
  for r in $(seq "$reps"); do
    echo "## water mask ${size}^2, DEFLATE, repetition $r"
    echo "1 process x 2 workers:"; "${tm[@]}" $wm --workers 2 "${co[@]}" "$out/wmz1.tif" "$dates"/date_*.tif 2>&1 | grep -E "wall|RSS|water"
    echo "2 ranks x 1 worker, .tif, tiles sent to rank 0:"; "${mpi[@]}" "${tm[@]}" $wm --workers 1 "${co[@]}" "$out/wmz2.tif" "$dates"/date_*.tif 2>&1 | grep -E "wall|RSS|water|halo"
    echo "2 ranks x 1 worker, .tif, assembled by rank 0 (funneled):"; "${mpi[@]}" "${fun[@]}" "${tm[@]}" $wm --workers 1 "${co[@]}" "$out/wmz2f.tif" "$dates"/date_*.tif 2>&1 | grep -E "wall|RSS|water|halo"
    echo "## pipeline ${size}^2, DEFLATE, repetition $r"
    echo "1 process x 2 workers:"; "${tm[@]}" $pl --workers 2 "${co[@]}" "$out/dsm_$size.tif" "$out/pz1" 2>&1 | grep -E "wrote|RSS"
    echo "2 ranks x 1 worker, .tif, tiles sent to rank 0:"; "${mpi[@]}" "${tm[@]}" $pl --workers 1 "${co[@]}" "$out/dsm_$size.tif" "$out/pz2" 2>&1 | grep -E "wrote|RSS|halo"
    echo "2 ranks x 1 worker, .tif, assembled by rank 0 (funneled):"; "${mpi[@]}" "${fun[@]}" "${tm[@]}" $pl --workers 1 "${co[@]}" "$out/dsm_$size.tif" "$out/pz2f" 2>&1 | grep -E "wrote|RSS|halo"
  done
  exit 0
fi
for r in $(seq "$reps"); do
  echo "## water mask ${size}^2, repetition $r"
  echo "1 process x 2 workers:"; "${tm[@]}" $wm --workers 2 "$out/wm1.tif" "$dates"/date_*.tif 2>&1 | grep -E "wall|RSS|water"
  echo "2 ranks x 1 worker, .vrt:"; "${mpi[@]}" "${tm[@]}" $wm --workers 1 "$out/wm2.vrt" "$dates"/date_*.tif 2>&1 | grep -E "wall|RSS|water|halo"
  echo "2 ranks x 1 worker, .tif:"; "${mpi[@]}" "${tm[@]}" $wm --workers 1 "$out/wm2.tif" "$dates"/date_*.tif 2>&1 | grep -E "wall|RSS|water|halo"
  echo "## pipeline ${size}^2, repetition $r"
  echo "1 process x 2 workers:"; "${tm[@]}" $pl --workers 2 "$out/dsm_$size.tif" "$out/p1" 2>&1 | grep -E "wrote|RSS"
  echo "2 ranks x 1 worker, .vrt:"; "${mpi[@]}" "${tm[@]}" $pl --workers 1 --vrt "$out/dsm_$size.tif" "$out/p2v" 2>&1 | grep -E "wrote|RSS|halo"
  echo "2 ranks x 1 worker, .tif:"; "${mpi[@]}" "${tm[@]}" $pl --workers 1 "$out/dsm_$size.tif" "$out/p2t" 2>&1 | grep -E "wrote|RSS|halo"
done
