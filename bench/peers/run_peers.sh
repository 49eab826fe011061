#!/usr/bin/env bash
# gramrl against real peers, in one run, on one random checkpoint (issue 16 item 5):
#   generation: `gramrl generate` vs transformers generate() vs llama.cpp (llama-cpp-python, on a
#     GGUF converted from the same checkpoint: f32, and f16 labelled as such), greedy, at batch 1
#     and 64, PROMPT-token prompts, NEW new tokens and 1 new token (the prefill) per row;
#   training: build/bench/train_bench on the checkpoint's shape vs the same step in plain PyTorch;
#   ops: build/bench/op_bench vs op_peer.py, the operations decoding spends its time in.
# Every peer gets THREADS threads (gramrl generate uses one per core, so THREADS must be nproc).
# The calls are interleaved, in a rotating order, REPEATS times, so that the load of a shared
# machine falls on all peers alike; report.py prints medians and ratios (gramrl time / peer time).
#
# Usage: bench/peers/run_peers.sh [REPEATS]   (default 3)
# Environment (defaults): OUT (runs/peers), GRAMRL (build/launch/gramrl), TRAIN_BENCH
#   (build/bench/train_bench), REF_PY (.venv-ref/bin/python: scripts/setup_reference.sh),
#   PEERS_VENV (.venv-peers: bench/peers/setup_peers.sh), PROMPT (32), NEW (32), BATCHES ("1 64"),
#   TRAIN_SHAPE (4x128), TRAIN_STEPS (3), F16 (1: also the f16 GGUF), NICE (0), OP_BENCH
#   (build/bench/op_bench), PARTS ("generation training ops": which to run).
# NICE: on a machine shared with builds, the peers' threads are preempted mid-step, and the
#   spinning barriers of llama.cpp and PyTorch turn that into stalls of seconds (a 32-token decode
#   of 0.7 s took 6 to 30 s). Linux schedules each session as one group (sched_autogroup), so a
#   process's own nice value does not help against another session's build: NICE=-10 (root)
#   gives this session's group the nice value, which lends the peers both cores while they run.
#   Start the script in a session of its own (setsid) so that nothing else shares the group.
# The environment reaches every peer: OMP_WAIT_POLICY=PASSIVE halves gramrl's batch-64 time on
#   2 cores (LibTorch 1.13's spinning OpenMP threads starve OpenBLAS's; docs/benchmarks.md, Peers).
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
OP_BENCH=${OP_BENCH:-build/bench/op_bench}
PARTS=${PARTS:-generation training ops}
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

if [ "$NICE" != 0 ] && [ -w /proc/self/autogroup ]; then
  echo "$NICE" > /proc/self/autogroup
fi
results="$OUT/results.jsonl"
[[ " $PARTS " == *" generation "* || " $PARTS " == *" training "* ]] && : > "$results"
{
  echo "run_peers: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $THREADS threads per peer, nice $NICE"
  echo "load before: $(uptime); scheduler group: $(cat /proc/self/autogroup 2>/dev/null)"
  echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} (inherited by every peer)"
  echo "parts: $PARTS; $(lscpu | grep -m1 'Model name' | tr -s ' ')"
} | tee -a "$OUT/conditions.txt"

gramrl_gen() { python3 "$here/gramrl_peer.py" generate "$GRAMRL" "$OUT/model" "$OUT/prompts.jsonl" --batch "$1" --new "$2"; }
hf_gen() { "$REF_PY" "$here/hf_peer.py" generate "$OUT/model" "$OUT/prompts.json" --batch "$1" --new "$2" --threads "$THREADS" 2>>"$OUT/peers.log"; }
llama_gen() {
  "$PEERS_VENV/bin/python" "$here/llama_cpp_peer.py" "$OUT/model-f32.gguf" "$OUT/prompts.json" --batch "$1" --new "$2" \
    --threads "$THREADS" --kv f32 2>>"$OUT/peers.log"
  if [ "$F16" = 1 ]; then
    "$PEERS_VENV/bin/python" "$here/llama_cpp_peer.py" "$OUT/model-f16.gguf" "$OUT/prompts.json" --batch "$1" --new "$2" \
      --threads "$THREADS" --kv f16 2>>"$OUT/peers.log"
  fi
}
peers=(gramrl_gen hf_gen llama_gen)
for ((rep = 0; rep < REPEATS; ++rep)); do
  [[ " $PARTS " == *" generation "* ]] || break
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
  [[ " $PARTS " == *" training "* ]] || break
  python3 "$here/gramrl_peer.py" train "$TRAIN_BENCH" "$OUT/model" --shape "$TRAIN_SHAPE" --steps "$TRAIN_STEPS" \
    --threads "$THREADS" >> "$results"
  "$REF_PY" "$here/hf_peer.py" train "$OUT/model" --shape "$TRAIN_SHAPE" --steps "$TRAIN_STEPS" --threads "$THREADS" \
    2>>"$OUT/peers.log" >> "$results"
  echo "run_peers: training repeat $((rep + 1))/$REPEATS done ($(uptime | sed 's/.*load/load/'))"
done
echo "load after: $(uptime)" | tee -a "$OUT/conditions.txt"
[[ " $PARTS " == *" generation "* || " $PARTS " == *" training "* ]] &&
  python3 "$here/report.py" "$results" "$PROMPT" "$NEW" | tee "$OUT/report.md"
if [[ " $PARTS " == *" ops "* ]]; then
  for ((rep = 0; rep < REPEATS; ++rep)); do
    "$OP_BENCH" "$OUT/model/config.json" --threads "$THREADS"
    "$REF_PY" "$here/op_peer.py" "$OUT/model/config.json" --threads "$THREADS"
  done | tee "$OUT/ops.txt"
fi
