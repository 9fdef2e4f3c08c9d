#!/usr/bin/env bash
# The `eoscale` command line against the tools a user would otherwise run
# (docs/benchmarks.md, "The command line against GDAL and OTB"), in one run:
#
#  calc   the seed's 4-date water mask (NDWI > 0 on every date) on make_s2_like's
#         4-band int16 GeoTIFFs, at each --sizes: `eoscale calc` against
#         `gdal_calc.py` and `otbcli_BandMath`;
#  mndwi  the 4-date MNDWI water mask on the L2A-like JPEG 2000 product
#         (make_s2_like --l2a, --jp2-size): `eoscale calc -r bilinear` against
#         `gdalwarp` of each B11 to 10 m then `gdal_calc.py`, and OTB's
#         `Superimpose` of each B11 then `BandMath`.
#
# Each command is a whole process, timed by /usr/bin/time (wall seconds and
# peak RSS; a chain: the sum of its steps' times, the largest step's RSS).
# Tools alternate within each round, in an order rotated from round to round;
# the summary gives medians. Every output is compared pixel for pixel with
# eoscale's. The load average is logged before each run.
#
#   scripts/bench_cli.sh [--rounds N] [--sizes 3500,10980] [--jp2-size 4096] [--only calc|mndwi]
#
# Needs gdal-bin, python3-gdal, python3-numpy, and otb-bin, which this script
# installs with apt-get when missing (it is a benchmark dependency only, not a
# build or test one). Environment: BUILD_DIR (default build; its cli/eoscale
# and examples/s2_like/make_s2_like are used), EOSCALE_BENCH_CACHE (input
# data, default ~/.cache/eoscale: 10980 needs 4 GB), OUT_DIR (default
# BUILD_DIR/bench-results/cli-<date>; outputs are deleted after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
sizes=3500,10980
jp2_size=4096
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift ;;
    --sizes) sizes="$2"; shift ;;
    --jp2-size) jp2_size="$2"; shift ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench_cli.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

BUILD_DIR="${BUILD_DIR:-build}"
CACHE="${EOSCALE_BENCH_CACHE:-$HOME/.cache/eoscale}"
OUT_DIR="${OUT_DIR:-$BUILD_DIR/bench-results/cli-$(date +%Y%m%d-%H%M%S)}"
EOSCALE="$BUILD_DIR/cli/eoscale"
PY=/usr/bin/python3  # Debian's, with python3-gdal and numpy
MAKE_S2="$BUILD_DIR/examples/s2_like/make_s2_like"
for b in "$EOSCALE" "$MAKE_S2"; do
  [[ -x $b ]] || { echo "bench_cli.sh: $b not built (cmake --build $BUILD_DIR)" >&2; exit 1; }
done
if ! command -v otbcli_BandMath >/dev/null; then
  echo "installing otb-bin (benchmark only)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends otb-bin >/dev/null
fi
mkdir -p "$OUT_DIR/work"
W="$OUT_DIR/work"
RESULTS="$OUT_DIR/runs.tsv"  # workload, tool, round, seconds, peak RSS KiB, load
: > "$RESULTS"
{
  echo "date:     $(date -Iseconds)"
  echo "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "tools:    $(gdalinfo --version); OTB $(dpkg-query -W -f '${Version}' otb-bin 2>/dev/null)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at the start; rounds $rounds"
} | tee "$OUT_DIR/context.txt"

# measure WORKLOAD TOOL ROUND -- STEP [";;" STEP ...]: runs the steps (each a
# command line, its words as arguments), sums their wall times, keeps the
# largest peak RSS.
measure() {
  local workload="$1" tool="$2" round="$3"; shift 4
  local load total=0 rss=0 step=() t m
  load=$(cut -d' ' -f1 /proc/loadavg)
  for word in "$@" ";;"; do
    if [[ $word == ";;" ]]; then
      /usr/bin/time -f "%e %M" -o "$W/time.txt" "${step[@]}" >"$W/step.log" 2>&1 ||
        { echo "FAILED: ${step[*]}" >&2; cat "$W/step.log" >&2; exit 1; }
      read -r t m < "$W/time.txt"
      total=$($PY -c "print(round($total + $t, 2))")
      if (( m > rss )); then rss=$m; fi
      step=()
    else
      step+=("$word")
    fi
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$tool" "$round" "$total" "$rss" "$load" | tee -a "$RESULTS"
}

# compare A B: number of pixels that differ between two one-band rasters.
compare() {
  $PY - "$1" "$2" <<'EOF'
import sys
import numpy as np
from osgeo import gdal
a = gdal.Open(sys.argv[1]).ReadAsArray()
b = gdal.Open(sys.argv[2]).ReadAsArray()
print(int(np.count_nonzero(a.astype(np.int64) != b.astype(np.int64))), a.size, int(np.count_nonzero(a)))
EOF
}

# report WORKLOAD TOOL FILE: how many pixels of FILE differ from eoscale's output.
report() {
  echo "$1 $2 differs from eoscale in: $(compare "$W/eoscale.tif" "$3") (pixels, of, water in eoscale's)" |
    tee -a "$OUT_DIR/compare.txt"
}

# Rotates an array: the tool order of round r.
rotate() { local r=$1; shift; local a=("$@") n=$#; for ((i = 0; i < n; ++i)); do echo "${a[(i + r) % n]}"; done; }

# --- calc: the seed's water mask ------------------------------------------------
ndwi() { echo "(im${1}b2-im${1}b4)/(im${1}b2+im${1}b4) > 0"; }
otb_exp="$(ndwi 1) && $(ndwi 2) && $(ndwi 3) && $(ndwi 4)"
gdal_exp="((A-B)/(A+B)>0)*((C-D)/(C+D)>0)*((E-F)/(E+F)>0)*((G-H)/(G+H)>0)"
if [[ -z $only || $only == calc ]]; then
  for size in ${sizes//,/ }; do
    dir="$CACHE/s2_like_${size}px_4dates"
    "$MAKE_S2" "$dir" --size "$size" --dates 4 >/dev/null
    d=("$dir"/date_{1,2,3,4}.tif)
    cat "${d[@]}" > /dev/null  # read once: no run pays for the disk
    gdal_in=(-A "${d[0]}" --A_band 2 -B "${d[0]}" --B_band 4 -C "${d[1]}" --C_band 2 -D "${d[1]}" --D_band 4
             -E "${d[2]}" --E_band 2 -F "${d[2]}" --F_band 4 -G "${d[3]}" --G_band 2 -H "${d[3]}" --H_band 4)
    for ((r = 1; r <= rounds; ++r)); do
      for tool in $(rotate "$r" eoscale gdal_calc otb); do
        case $tool in
          eoscale) measure "water_mask_$size" eoscale "$r" -- "$EOSCALE" calc -i "${d[0]}" -i "${d[1]}" \
                     -i "${d[2]}" -i "${d[3]}" --ot Byte --quiet --overwrite -o "$W/eoscale.tif" --calc "$otb_exp" ;;
          gdal_calc) rm -f "$W/gdal_calc.tif"; measure "water_mask_$size" gdal_calc.py "$r" -- gdal_calc.py \
                     "${gdal_in[@]}" --calc "$gdal_exp" --type Byte --quiet --outfile "$W/gdal_calc.tif" ;;
          otb) measure "water_mask_$size" otbcli_BandMath "$r" -- otbcli_BandMath -il "${d[@]}" \
                     -out "$W/otb.tif" uint8 -exp "$otb_exp" ;;
        esac
      done
    done
    report "water_mask_$size" gdal_calc.py "$W/gdal_calc.tif"
    report "water_mask_$size" otbcli_BandMath "$W/otb.tif"
    rm -f "$W"/*
  done
fi

# --- mndwi: the 4-date MNDWI water mask on JPEG 2000 ----------------------------
if [[ -z $only || $only == mndwi ]]; then
  dir="$CACHE/s2_l2a_like_${jp2_size}px_4dates"
  "$MAKE_S2" "$dir" --l2a --size "$jp2_size" --dates 4 >/dev/null
  cat "$dir"/*.jp2 > /dev/null
  g=() s=()
  for day in 0605 0615 0625 0705; do
    g+=("$dir/T30TXN_2023${day}T105619_B03_10m.jp2")
    s+=("$dir/T30TXN_2023${day}T105619_B11_20m.jp2")
  done
  ext=$((jp2_size * 10))
  te=(399960 $((5000040 - ext)) $((399960 + ext)) 5000040)
  eo_in=() mndwi="" otb_in=() otb_exp="" gdal_in=() gdal_exp="" L=(A B C D E F G H)
  for k in 0 1 2 3; do
    eo_in+=(-i "G$k=${g[k]}" -i "S$k=${s[k]}")
    mndwi+="${mndwi:+ && }(G$k-S$k)/(G$k+S$k-2000) > 0"
    otb_in+=("${g[k]}" "$W/s$k.tif")
    i=$((2 * k + 1)) j=$((2 * k + 2))
    otb_exp+="${otb_exp:+ && }(im${i}b1-im${j}b1)/(im${i}b1+im${j}b1-2000) > 0"
    a=${L[2 * k]} b=${L[2 * k + 1]}
    gdal_in+=(-$a "${g[k]}" -$b "$W/w$k.tif")
    gdal_exp+="${gdal_exp:+*}((1.0*$a-$b)/(1.0*$a+$b-2000)>0)"
  done
  for ((r = 1; r <= rounds; ++r)); do
    for tool in $(rotate "$r" eoscale gdal otb); do
      case $tool in
        eoscale) measure "mndwi_jp2_$jp2_size" eoscale "$r" -- "$EOSCALE" calc -r bilinear --ot Byte --quiet \
                   --overwrite -o "$W/eoscale.tif" "${eo_in[@]}" --calc "$mndwi" ;;
        gdal)
          rm -f "$W"/w?.tif "$W/gdal.tif"
          steps=()
          for k in 0 1 2 3; do
            steps+=(gdalwarp -q -r bilinear -et 0 -t_srs EPSG:32630 -tr 10 10 -te "${te[@]}" "${s[k]}" "$W/w$k.tif" ";;")
          done
          measure "mndwi_jp2_$jp2_size" "gdalwarp+gdal_calc.py" "$r" -- "${steps[@]}" gdal_calc.py "${gdal_in[@]}" \
            --calc "$gdal_exp" --type Byte --quiet --outfile "$W/gdal.tif" ;;
        otb)
          steps=()
          for k in 0 1 2 3; do
            steps+=(otbcli_Superimpose -inr "${g[k]}" -inm "${s[k]}" -interpolator linear -out "$W/s$k.tif" uint16 ";;")
          done
          measure "mndwi_jp2_$jp2_size" "Superimpose+BandMath" "$r" -- "${steps[@]}" otbcli_BandMath \
            -il "${otb_in[@]}" -out "$W/otb.tif" uint8 -exp "$otb_exp" ;;
      esac
    done
  done
  report "mndwi_jp2_$jp2_size" gdalwarp+gdal_calc.py "$W/gdal.tif"
  report "mndwi_jp2_$jp2_size" Superimpose+BandMath "$W/otb.tif"
  rm -f "$W"/*
fi

# --- summary: medians per workload and tool ------------------------------------
$PY - "$RESULTS" <<'EOF' | tee "$OUT_DIR/summary.md"
import collections, statistics, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    w, tool, r, t, rss, load = line.rstrip("\n").split("\t")
    rows.setdefault((w, tool), []).append((float(t), int(rss), float(load)))
print("| workload | tool | median wall (s) | runs (s) | median peak RSS (MiB) | load at start |")
print("|---|---|---|---|---|---|")
base = {w: statistics.median(x[0] for x in v) for (w, tool), v in rows.items() if tool == "eoscale"}
for (w, tool), v in sorted(rows.items(), key=lambda kv: (list(base).index(kv[0][0]) if kv[0][0] in base else 0,
                                                         kv[0][1] != "eoscale")):
    t = statistics.median(x[0] for x in v)
    print(f"| {w} | {tool} | {t:.2f}" + (f" ({t / base[w]:.1f} x)" if tool != "eoscale" and w in base else "")
          + f" | {', '.join(f'{x[0]:.2f}' for x in v)} | {statistics.median(x[1] for x in v) / 1024:.0f}"
          + f" | {', '.join(f'{x[2]:.1f}' for x in v)} |")
EOF
echo "results in $OUT_DIR"
