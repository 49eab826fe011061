#!/usr/bin/env bash
# The CUDA build: gramrl against the LibTorch 2.x inside PyTorch from PyPI (CUDA 13.0, NCCL),
# with the CUDA toolkit at CUDA_HOME (default /usr/local/cuda), into build-cuda/ with ninja.
# This is how GPU users build gramrl; here (no GPU) it proves that every target, the NCCL
# collectives, bf16 autocast and the CUDA-only branches compile and link, and the unit tests then
# run on the CPU with this build (scripts/test.sh does both; CUDA_BUILD=0 there skips them).
#
# LibTorch comes from .venv-ref (scripts/setup_reference.sh, pinned torch in
# scripts/reference/hf/requirements.txt), found as GPU users find it:
# torch.utils.cmake_prefix_path. TORCH_PYTHON may name another Python whose torch to use.
# BUILD_DIR (default build-cuda) and BUILD_TYPE (default Release) may be set; arguments name
# targets (default: all). Incremental after the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cuda}
BUILD_TYPE=${BUILD_TYPE:-Release}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
if [ ! -x "$CUDA_HOME/bin/nvcc" ]; then
  echo "build_cuda: no nvcc at $CUDA_HOME/bin/nvcc. Install the CUDA toolkit (13.0 for the pinned" \
       "PyTorch) or set CUDA_HOME to where it is." >&2
  exit 1
fi
if [ -z "${TORCH_PYTHON:-}" ]; then
  scripts/setup_reference.sh
  TORCH_PYTHON=.venv-ref/bin/python
fi
# Importing torch only to ask where its CMake files are; numpy's absence is not an error here.
prefix=$("$TORCH_PYTHON" -W ignore -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
torch_cuda=$("$TORCH_PYTHON" -W ignore -c 'import torch; print(torch.version.cuda or "")')
if [ -z "$torch_cuda" ]; then
  echo "build_cuda: the torch of $TORCH_PYTHON is built without CUDA; pip install a CUDA build" >&2
  exit 1
fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # No .cu files are compiled; TORCH_CUDA_ARCH_LIST only quiets LibTorch's architecture probe.
  TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_CUDA_COMPILER="$CUDA_HOME/bin/nvcc" -DCUDAToolkit_ROOT="$CUDA_HOME" \
    -DGRAMRL_REQUIRE_CUDA=ON
fi
echo "build_cuda: LibTorch at $prefix (CUDA $torch_cuda), CUDA toolkit at $CUDA_HOME, into $BUILD_DIR"
# About 1.5 GB of memory per translation unit with the 2.x headers: one job per core.
if [ $# -gt 0 ]; then
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "$@"
else
  cmake --build "$BUILD_DIR" -j "$(nproc)"
fi
