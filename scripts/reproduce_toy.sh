#!/usr/bin/env bash
# GRAM's central claim at toy scale, on the built-in synthetic world (common/world): a reward
# model pre-trained on unlabeled response pairs (stage 1) and then fine-tuned on labels (stage 2)
# generalises to held-out task families better than the same labels used without pre-training.
#
# Per seed (seeds run in parallel, one CPU core and one torch thread each):
#   stage 1  gramrl gram pretrain   on unlabeled pairs of all six families
#   GRAM     gramrl gram finetune   from the stage-1 model, labels of the 4 in-distribution families
#   gen-only gramrl gram finetune   from random init, same labels (generative, no stage 1)
#   BT       gramrl gram bt         from random init, same labels (discriminative Bradley-Terry)
#   BT+S1    gramrl gram bt         from the stage-1 model (control: pre-training without A/B judging)
#   LL       the label-free likelihood judge: prefers the response the stage-1 model finds likelier
#   adapt    task adaptation: the GRAM model above vs random init, fine-tuned on 0..N labels of the
#            held-out families themselves
# Every model is scored on fixed noise-free test pairs (gramrl gram eval): in-distribution
# (srt, ddp, add, rot) and out-of-distribution (rev, inc), also split by whether the pair
# contains the exact correct answer. The report (markdown + PNG) goes to $REPORT_DIR.
#
# Knobs (environment): SEEDS, STAGE1_STEPS, STAGE2_STEPS, LABELS, ADAPT_LABELS, ADAPT_STEPS,
# OUT, REPORT_DIR, GRAMRL. With the defaults it took 1351 s (22.5 min) on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1"}
STAGE1_STEPS=${STAGE1_STEPS:-1500}
STAGE2_STEPS=${STAGE2_STEPS:-300}
LABELS=${LABELS:-2000}
ADAPT_LABELS=${ADAPT_LABELS:-"50 200 800"}
ADAPT_STEPS=${ADAPT_STEPS:-150}
OUT=${OUT:-runs/toy}
REPORT_DIR=${REPORT_DIR:-$OUT}
GRAMRL=${GRAMRL:-build/launch/gramrl}
CONFIG=configs/gram-toy.yaml
BATCH=64
D=$OUT/data
mkdir -p "$D" "$OUT/eval" "$OUT/logs" "$REPORT_DIR"
START=$(date +%s)
say() { printf '[%4ds] %s\n' $(($(date +%s) - START)) "$*"; }
step_dir() { printf '%s/runs/%s/checkpoints/step-%08d/model' "$OUT" "$1" "$2"; }

say "data: world test pairs (fixed), per seed unlabeled ($((STAGE1_STEPS * BATCH)) pairs) and labeled sets"
"$GRAMRL" world generate test --n 800 --seed 999 --families srt,ddp,add,rot --out "$D/test-id.jsonl" 2>>"$OUT/logs/data.log"
"$GRAMRL" world generate test --n 400 --seed 999 --families rev,inc --out "$D/test-ood.jsonl" 2>>"$OUT/logs/data.log"
max_adapt=0
for n in $ADAPT_LABELS; do [ "$n" -gt "$max_adapt" ] && max_adapt=$n; done
for s in $SEEDS; do
  "$GRAMRL" world generate unlabeled --n $((STAGE1_STEPS * BATCH)) --seed $((100 + s)) \
    --out "$D/unlabeled-s$s.jsonl" 2>>"$OUT/logs/data.log"
  "$GRAMRL" world generate labeled --n "$LABELS" --seed $((200 + s)) --exclude-families rev,inc \
    --out "$D/labeled-s$s.jsonl" 2>>"$OUT/logs/data.log"
  # Row i of a world data set does not depend on n, so the smaller sets are prefixes.
  "$GRAMRL" world generate labeled --n "$max_adapt" --seed $((300 + s)) --families rev,inc \
    --out "$D/adapt-s$s.jsonl" 2>>"$OUT/logs/data.log"
  for n in $ADAPT_LABELS; do head -n "$n" "$D/adapt-s$s.jsonl" > "$D/adapt-s$s-$n.jsonl"; done
done

# train SEED NAME COMMAND MODEL DATA STEPS LR
train() {
  local s=$1 name=$2 command=$3 model=$4 data=$5 steps=$6 lr=$7
  local t0
  t0=$(date +%s)
  "$GRAMRL" gram "$command" "$CONFIG" experiment.output_dir="$OUT/runs" experiment.name="s$s-$name" \
    experiment.seed="$s" reward.model="$model" learner.data.train="$data" learner.total_steps="$steps" \
    learner.lr="$lr" learner.resume=auto >"$OUT/logs/s$s-$name.log" 2>&1 ||
    { say "seed $s: $name FAILED (see $OUT/logs/s$s-$name.log)"; tail -5 "$OUT/logs/s$s-$name.log"; return 1; }
  say "seed $s: $name trained in $(($(date +%s) - t0)) s ($steps steps)"
}

# evaluate SEED NAME KIND MODEL: in- and out-of-distribution test pairs
evaluate() {
  local s=$1 name=$2 kind=$3 model=$4 split
  for split in id ood; do
    "$GRAMRL" gram eval "$D/test-$split.jsonl" --model "$model" --kind "$kind" --judge-template compact \
      --chat-template plain --max-tokens 128 --batch-size 128 --threads 1 \
      --out-json "$OUT/eval/s$s-$name-$split.json" >"$OUT/logs/s$s-$name-eval-$split.log" 2>&1 ||
      { say "seed $s: evaluating $name FAILED (see $OUT/logs/s$s-$name-eval-$split.log)"; return 1; }
  done
}

run_seed() {
  local s=$1 n
  train "$s" stage1 pretrain builtin:toy "$D/unlabeled-s$s.jsonl" "$STAGE1_STEPS" 1e-3
  local s1
  s1=$(step_dir "s$s-stage1" "$STAGE1_STEPS")
  evaluate "$s" likelihood likelihood "$s1"
  train "$s" gram finetune "$s1" "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" gram gram "$(step_dir "s$s-gram" "$STAGE2_STEPS")"
  train "$s" gen-only finetune builtin:toy "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" gen-only gram "$(step_dir "s$s-gen-only" "$STAGE2_STEPS")"
  train "$s" bt bt builtin:toy "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" bt bradley_terry "$(step_dir "s$s-bt" "$STAGE2_STEPS")"
  train "$s" bt-s1 bt "$s1" "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" bt-s1 bradley_terry "$(step_dir "s$s-bt-s1" "$STAGE2_STEPS")"
  for n in $ADAPT_LABELS; do
    train "$s" "adapt-gram-$n" finetune "$(step_dir "s$s-gram" "$STAGE2_STEPS")" "$D/adapt-s$s-$n.jsonl" \
      "$ADAPT_STEPS" 2e-4
    evaluate "$s" "adapt-gram-$n" gram "$(step_dir "s$s-adapt-gram-$n" "$ADAPT_STEPS")"
    train "$s" "adapt-scratch-$n" finetune builtin:toy "$D/adapt-s$s-$n.jsonl" "$ADAPT_STEPS" 5e-4
    evaluate "$s" "adapt-scratch-$n" gram "$(step_dir "s$s-adapt-scratch-$n" "$ADAPT_STEPS")"
  done
  say "seed $s: done"
}

say "training: seeds [$SEEDS] in parallel; logs in $OUT/logs (each run also writes metrics.jsonl)"
pids=()
for s in $SEEDS; do
  run_seed "$s" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" -eq 0 ] || { say "a run failed; rerun this script to resume (finished runs are kept)"; exit 1; }

say "report: $REPORT_DIR/toy-reproduction.md and .png"
scripts/toy_report.sh "$OUT" "$REPORT_DIR" "$SEEDS" "$LABELS" "$ADAPT_LABELS" \
  "stage 1 $STAGE1_STEPS steps, stage 2 $STAGE2_STEPS steps, adaptation $ADAPT_STEPS steps, batch $BATCH" \
  "$(($(date +%s) - START))"
cat "$REPORT_DIR/toy-reproduction.md"
