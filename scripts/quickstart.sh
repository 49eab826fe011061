#!/usr/bin/env bash
# The main job: install, build, then run what gramrl can do end to end today:
# validate every shipped config, a transport self-test between two processes (rendezvous
# through a TCPStore, framed Cap'n Proto over ZeroMQ on tcp and ipc), the Qwen3 tokenizer and
# chat template, and generation from the built-in tiny model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh gramrl
echo "== gramrl config check configs/*.yaml"
build/launch/gramrl config check --quiet configs/*.yaml
echo "== gramrl selftest transport"
build/launch/gramrl selftest transport
echo "== gramrl tokenize (Qwen3 tokenizer, qwen3 chat template)"
build/launch/gramrl tokenize -t tests/data/tokenizers/qwen3 --chat-template qwen3 "What is 2+2?"
echo "== gramrl generate (builtin:tiny, random weights: the text is noise until training lands)"
build/launch/gramrl generate -m builtin:tiny -n 2 --max-new-tokens 24 --temperature 0.8 --seed 1 "sort: 3 1 2"
