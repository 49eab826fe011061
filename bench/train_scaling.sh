#!/usr/bin/env bash
# Data-parallel scaling of `gramrl train dpo` on this machine: the same global batch on 1 and 2
# learner processes (1 torch thread each), reading each run's metrics.jsonl. Reports the median
# step time (steps after the first 3), the speedup of 2 ranks over 1, and the gradient
# allreduce time as a fraction of the step (time/allreduce_fraction, measured by the trainer).
# Correctness in the same run: the two runs' final losses must agree (same global batch).
#
# Usage: bench/train_scaling.sh [BUILD_DIR] [PRESET] [STEPS] [GLOBAL_BATCH]
set -euo pipefail
BUILD=${1:-build}
PRESET=${2:-tiny}
STEPS=${3:-20}
BATCH=${4:-32}
GRAMRL=$(realpath "$BUILD/launch/gramrl")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$GRAMRL" world generate labeled --n 512 --seed 1 --out "$WORK/pairs.jsonl" 2>/dev/null
cat > "$WORK/dpo.yaml" <<YAML
experiment: {name: r, output_dir: $WORK/runs, seed: 1}
policy: {model: "builtin:$PRESET", max_prompt_tokens: 64, max_new_tokens: 32}
learner:
  algorithm: dpo
  threads: 1
  total_steps: $STEPS
  global_batch_size: $BATCH
  micro_batch_size: $((BATCH / 2))
  lr: 0.0005
  tensorboard: false
  data: {train: $WORK/pairs.jsonl}
  checkpoint: {every_steps: 0}
YAML
summary() {  # median over steps > 3 of a metric
  python3 - "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
vals = [r[sys.argv[2]] for r in rows if r["step"] > 3]
print(statistics.median(vals))
PY
}
echo "train scaling: builtin:$PRESET, DPO, global batch $BATCH pairs ($((2 * BATCH)) sequences), $STEPS steps, 1 thread per rank"
for ranks in 1 2; do
  "$GRAMRL" train dpo "$WORK/dpo.yaml" experiment.name=r$ranks learner.ranks=$ranks > "$WORK/r$ranks.log" 2>&1
done
m1="$WORK/runs/r1/metrics.jsonl"; m2="$WORK/runs/r2/metrics.jsonl"
s1=$(summary "$m1" time/step_s); s2=$(summary "$m2" time/step_s)
f2=$(summary "$m2" time/allreduce_fraction)
l1=$(tail -1 "$m1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])')
l2=$(tail -1 "$m2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])')
python3 - "$s1" "$s2" "$f2" "$l1" "$l2" <<'PY'
import sys
s1, s2, f2, l1, l2 = map(float, sys.argv[1:])
print(f"1 rank : median step {s1:.4f} s")
print(f"2 ranks: median step {s2:.4f} s, speedup {s1 / s2:.2f}x, allreduce {100 * f2:.1f}% of the step")
print(f"final loss 1 rank {l1:.6f}, 2 ranks {l2:.6f} (|diff| {abs(l1 - l2):.2e})")
sys.exit(0 if abs(l1 - l2) < 1e-4 else 1)
PY
