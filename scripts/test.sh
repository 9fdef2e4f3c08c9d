#!/usr/bin/env bash
# Set up, build (warnings are errors), and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh -DEOSCALE_WERROR=ON
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
