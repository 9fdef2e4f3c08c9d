#!/usr/bin/env bash
# Installs the Debian 12 packages EOScale C++ builds with, if any is missing.
# Extra package names given as arguments are installed too (scripts/fuzz.sh
# adds clang and libFuzzer this way, only for the fuzzing step).
set -euo pipefail
packages=(cmake g++ make libtbb-dev libgdal-dev libabsl-dev libbenchmark-dev libgtest-dev libgmock-dev
          python3-gdal python3-dev python3-numpy pybind11-dev python3-pybind11 python3-pytest
          python3-rasterio python3-scipy python3-tqdm python3-numba libopenmpi-dev openmpi-bin "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
