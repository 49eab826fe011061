#!/usr/bin/env bash
# The main job: install, build, then run what gramrl can do end to end today:
# validate every shipped config, a transport self-test between two processes (rendezvous
# through a TCPStore, framed Cap'n Proto over ZeroMQ on tcp and ipc), the Qwen3 tokenizer and
# chat template, generation from the built-in tiny model, and DPO training on synthetic
# preference pairs with two learner processes.
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
echo "== gramrl world generate (synthetic preference pairs)"
build/launch/gramrl world generate labeled --n 2000 --seed 1 --out runs/data/world-pairs.jsonl
build/launch/gramrl world generate test --n 256 --seed 2 --out runs/data/world-test-pairs.jsonl
echo "== gramrl train dpo configs/dpo-toy.yaml (2 learner ranks; rerunning resumes)"
build/launch/gramrl train dpo configs/dpo-toy.yaml learner.ranks=2 learner.resume=never \
  experiment.name="dpo-toy-$(date +%Y%m%d-%H%M%S)"
