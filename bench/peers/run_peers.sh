#!/usr/bin/env bash
# gramrl against real peers, in one run, on one random checkpoint (issue 16 item 5):
#   generation: `gramrl generate` vs transformers generate() vs llama.cpp (llama-cpp-python, on a
#     GGUF converted from the same checkpoint: f32, and f16 labelled as such), greedy, at batch 1
#     and 64, PROMPT-token prompts, NEW new tokens and 1 new token (the prefill) per row;
#   training: build/bench/train_bench on the checkpoint's shape vs the same step in plain PyTorch.
# Every peer gets THREADS threads (gramrl generate uses one per core, so THREADS must be nproc).
# The calls are interleaved, in a rotating order, REPEATS times, so that the load of a shared
# machine falls on all peers alike; report.py prints medians and ratios (gramrl time / peer time).
#
# Usage: bench/peers/run_peers.sh [REPEATS]   (default 3)
# Environment (defaults): OUT (runs/peers), GRAMRL (build/launch/gramrl), TRAIN_BENCH
#   (build/bench/train_bench), REF_PY (.venv-ref/bin/python: scripts/setup_reference.sh),
#   PEERS_VENV (.venv-peers: bench/peers/setup_peers.sh), PROMPT (32), NEW (32), BATCHES ("1 64"),
#   TRAIN_SHAPE (4x128), TRAIN_STEPS (3), F16 (1: also the f16 GGUF), NICE (0: the nice value
#   of every peer; on a machine shared with builds, -10 (as root) keeps the builds from preempting
#   the peers' threads mid-step, which the OpenMP barriers of LibTorch and llama.cpp pay dearly for).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-3}
OUT=${OUT:-runs/peers}
GRAMRL=${GRAMRL:-build/launch/gramrl}
TRAIN_BENCH=${TRAIN_BENCH:-build/bench/train_bench}
REF_PY=${REF_PY:-.venv-ref/bin/python}
PEERS_VENV=${PEERS_VENV:-.venv-peers}
PROMPT=${PROMPT:-32}
NEW=${NEW:-32}
BATCHES=${BATCHES:-1 64}
TRAIN_SHAPE=${TRAIN_SHAPE:-4x128}
TRAIN_STEPS=${TRAIN_STEPS:-3}
F16=${F16:-1}
NICE=${NICE:-0}
THREADS=$(nproc)
here=bench/peers
convert=$(ls "$PEERS_VENV"/src/llama_cpp_python-*/vendor/llama.cpp/convert_hf_to_gguf.py | tail -1)

mkdir -p "$OUT"
if [ ! -f "$OUT/prompts.json" ]; then
  "$REF_PY" "$here/make_checkpoint.py" "$OUT" --prompt-tokens "$PROMPT" --prompts 64
fi
ggufs=("$OUT/model-f32.gguf")
[ "$F16" = 1 ] && ggufs+=("$OUT/model-f16.gguf")
for g in "${ggufs[@]}"; do
  type=${g##*-}; type=${type%.gguf}
  # The converter needs torch and transformers (.venv-ref), its own gguf-py (next to it) and sentencepiece.
  [ -f "$g" ] || PYTHONPATH="$PEERS_VENV/convert-deps" "$REF_PY" "$convert" "$OUT/model" --outtype "$type" --outfile "$g" > "$OUT/convert-$type.log" 2>&1
done

results="$OUT/results.jsonl"
: > "$results"
{
  echo "run_peers: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $THREADS threads per peer, nice $NICE"
  echo "load before: $(uptime)"
  lscpu | grep -m1 'Model name'
} | tee "$OUT/conditions.txt"

run() { nice -n "$NICE" "$@"; }
gramrl_gen() { run python3 "$here/gramrl_peer.py" generate "$GRAMRL" "$OUT/model" "$OUT/prompts.jsonl" --batch "$1" --new "$2"; }
hf_gen() { run "$REF_PY" "$here/hf_peer.py" generate "$OUT/model" "$OUT/prompts.json" --batch "$1" --new "$2" --threads "$THREADS" 2>>"$OUT/peers.log"; }
llama_gen() {
  run "$PEERS_VENV/bin/python" "$here/llama_cpp_peer.py" "$OUT/model-f32.gguf" "$OUT/prompts.json" --batch "$1" --new "$2" \
    --threads "$THREADS" --kv f32 2>>"$OUT/peers.log"
  if [ "$F16" = 1 ]; then
    run "$PEERS_VENV/bin/python" "$here/llama_cpp_peer.py" "$OUT/model-f16.gguf" "$OUT/prompts.json" --batch "$1" --new "$2" \
      --threads "$THREADS" --kv f16 2>>"$OUT/peers.log"
  fi
}
peers=(gramrl_gen hf_gen llama_gen)
for ((rep = 0; rep < REPEATS; ++rep)); do
  for batch in $BATCHES; do
    for new in 1 "$NEW"; do
      for ((k = 0; k < ${#peers[@]}; ++k)); do  # rotate the order with each repeat
        "${peers[$(((k + rep) % ${#peers[@]}))]}" "$batch" "$new" >> "$results"
      done
    done
  done
  echo "run_peers: generation repeat $((rep + 1))/$REPEATS done ($(uptime | sed 's/.*load/load/'))"
done
for ((rep = 0; rep < REPEATS; ++rep)); do
  run python3 "$here/gramrl_peer.py" train "$TRAIN_BENCH" "$OUT/model" --shape "$TRAIN_SHAPE" --steps "$TRAIN_STEPS" \
    --threads "$THREADS" >> "$results"
  run "$REF_PY" "$here/hf_peer.py" train "$OUT/model" --shape "$TRAIN_SHAPE" --steps "$TRAIN_STEPS" --threads "$THREADS" \
    2>>"$OUT/peers.log" >> "$results"
  echo "run_peers: training repeat $((rep + 1))/$REPEATS done ($(uptime | sed 's/.*load/load/'))"
done
echo "load after: $(uptime)" | tee -a "$OUT/conditions.txt"
python3 "$here/report.py" "$results" "$PROMPT" "$NEW" | tee "$OUT/report.md"
