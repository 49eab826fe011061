#!/usr/bin/env bash
# The test job: install, build everything, run the whole ctest suite (unit and integration), then
# fuzz the reward and transport message decoders for FUZZ_SECONDS (default 60; 0 skips it) with
# libFuzzer (scripts/fuzz.sh). Extra arguments go to ctest (e.g. -L unit, -R config). The Hugging
# Face reference checks (ctest -L reference) need .venv-ref, which scripts/setup_reference.sh
# makes; SKIP_REFERENCE=1 skips it (those tests then print SKIPPED, except under CI).
# Then the CUDA build (scripts/build_cuda.sh: LibTorch 2.x with CUDA and NCCL from PyPI's PyTorch,
# the CUDA toolkit at CUDA_HOME, default /usr/local/cuda) compiles and links every target into
# build-cuda/, and its unit tests (ctest -L unit) run on the CPU; CUDA_BUILD=0 skips it, as does a
# machine without nvcc (outside CI, where that fails).
# The tests labelled slurm run gramrl rlhf as a heterogeneous job on a real Slurm that
# scripts/slurm_test_cluster.sh starts on this machine (a ctest fixture; it needs root and installs
# slurm-wlm and munge with apt-get when missing; about 4 minutes); SKIP_SLURM=1 leaves them out.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
stage() { echo "test: $1 took $(( $(date +%s) - t0 )) s"; t0=$(date +%s); }
scripts/setup.sh
stage "setup.sh"
if [ "${SKIP_REFERENCE:-0}" != 1 ]; then scripts/setup_reference.sh; stage "setup_reference.sh"; fi
scripts/build.sh
stage "the build"
# The test binaries run LibTorch in-process, two at a time: passive OpenMP threads (NOTE [OpenMP
# threads wait passively] in launch/main.cc, which the gramrl binary sets for itself) keep their
# spinning from starving the other test.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
skip=()
if [ "${SKIP_SLURM:-0}" = 1 ]; then skip=(-LE slurm); fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "${skip[@]}" "$@"
stage "the test suite"
if [ "${CUDA_BUILD:-1}" != 0 ]; then
  if [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
    BUILD_DIR=build-cuda scripts/build_cuda.sh
    stage "the CUDA build"
    ctest --test-dir build-cuda --output-on-failure -j "$(nproc)" -L unit
    stage "the CUDA build's unit tests"
  elif [ -n "${CI:-}" ]; then
    echo "test: no nvcc at ${CUDA_HOME:-/usr/local/cuda}/bin/nvcc; CI builds the CUDA build too" >&2
    exit 1
  else
    echo "test: SKIPPED the CUDA build: no nvcc at ${CUDA_HOME:-/usr/local/cuda}/bin/nvcc (CUDA_BUILD=0 silences this)"
  fi
fi
if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"; stage "the fuzzers"; fi
