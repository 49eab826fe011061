#!/usr/bin/env bash
# The test job: install, build everything, run the whole ctest suite (unit and integration), then
# fuzz the reward and transport message decoders for FUZZ_SECONDS (default 60; 0 skips it) with
# libFuzzer (scripts/fuzz.sh). Extra arguments go to ctest (e.g. -L unit, -R config). The Hugging
# Face reference checks (ctest -L reference) need .venv-ref, which scripts/setup_reference.sh
# makes; SKIP_REFERENCE=1 skips it (those tests then print SKIPPED, except under CI).
# The tests labelled slurm run gramrl rlhf as a heterogeneous job on a real Slurm that
# scripts/slurm_test_cluster.sh starts on this machine (a ctest fixture; it needs root and installs
# slurm-wlm and munge with apt-get when missing; about 4 minutes); SKIP_SLURM=1 leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ "${SKIP_REFERENCE:-0}" != 1 ]; then scripts/setup_reference.sh; fi
scripts/build.sh
skip=()
if [ "${SKIP_SLURM:-0}" = 1 ]; then skip=(-LE slurm); fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "${skip[@]}" "$@"
if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"; fi
