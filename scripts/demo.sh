#!/usr/bin/env bash
# Set up, build, and run the 4-date water mask on built-in synthetic data
# with the `eoscale` command line: 4 Sentinel-2-like dates of 3500 x 3500
# (generated once into $TMPDIR/eoscale_demo), NDWI > 0 on every date, written
# as a Cloud Optimized GeoTIFF, then its statistics.
#
#   bash scripts/demo.sh [OUTPUT.tif]     # default /tmp/eoscale_water_mask.tif
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
out="${1:-/tmp/eoscale_water_mask.tif}"
data="${TMPDIR:-/tmp}/eoscale_demo"
if [ ! -f "$data/date_4.tif" ]; then
  build/examples/s2_like/make_s2_like "$data" --size 3500 --dates 4
fi
steps=()
for d in 1 2 3 4; do
  [ "$d" -gt 1 ] && steps+=("!")
  steps+=(read "$data/date_$d.tif" --bands 2,4 ! ndwi ! threshold --gt 0 --as "w$d")
done
time build/cli/eoscale pipeline --workers "$(nproc)" --overwrite \
  "${steps[@]}" ! and w1 w2 w3 w4 ! write "$out" --cog ! stats
echo "water mask: $out"
