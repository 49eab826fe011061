#!/usr/bin/env bash
# Makes .venv-peers (git-ignored), the llama.cpp peer of bench/peers/run_peers.sh: llama-cpp-python
# from PyPI, which compiles its vendored llama.cpp (GGML_NATIVE: for this CPU; about 15 minutes on
# 2 busy cores), and the same release's source, for llama.cpp's convert_hf_to_gguf.py and gguf-py
# (in .venv-peers/src), with sentencepiece in .venv-peers/convert-deps (the converter imports it
# even for a tokenizer.json; it runs on .venv-ref's torch and transformers). Idempotent. VENV and LLAMA_CPP_PYTHON (the version) may be set.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv-peers}
VERSION=${LLAMA_CPP_PYTHON:-0.3.36}
if ! "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" 2>/dev/null; then
  [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$VENV/bin/pip" install -q --no-input "llama-cpp-python==$VERSION"
fi
src="$VENV/src/llama_cpp_python-$VERSION"
if [ ! -f "$src/vendor/llama.cpp/convert_hf_to_gguf.py" ]; then
  mkdir -p "$VENV/src"
  "$VENV/bin/pip" download -q --no-deps --no-binary :all: -d "$VENV/src" "llama-cpp-python==$VERSION"
  tar -xzf "$VENV/src/llama_cpp_python-$VERSION.tar.gz" -C "$VENV/src"
fi
[ -d "$VENV/convert-deps/sentencepiece" ] ||
  "$VENV/bin/pip" install -q --no-deps --target "$VENV/convert-deps" sentencepiece
echo "setup_peers: $VENV has llama-cpp-python $VERSION; converter $src/vendor/llama.cpp/convert_hf_to_gguf.py"
