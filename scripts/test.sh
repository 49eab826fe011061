#!/usr/bin/env bash
# The test job: install, build everything, run the whole ctest suite (unit and integration).
# Extra arguments go to ctest (e.g. -L unit, -R config).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
