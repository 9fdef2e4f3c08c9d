#!/usr/bin/env bash
# Set up, build, and run the 4-date water mask on built-in synthetic data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
out="${1:-/tmp/eoscale_water_mask.tif}"
build/examples/water_mask/water_mask --workers "$(nproc)" "$out"
