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
# Once, alongside the seeds (fixed for all of them, like the test pairs):
#   policy   gramrl train sft       a tiny policy (builtin:toy) on the world's noisy demonstrations
#            (70% correct), then gramrl generate samples BON_N candidates per test prompt
#            (BON_PROMPTS in- and as many out-of-distribution prompts) and gramrl world candidates
#            grades them with the gold judge and pairs them ("policy-sampled" pairs).
# Every model is scored on fixed noise-free test pairs (gramrl gram eval): in-distribution
# (srt, ddp, add, rot) and out-of-distribution (rev, inc), also split by whether the pair
# contains the exact correct answer; the five main models also on the policy-sampled pairs and
# by best-of-n selection among the policy's candidates (mean gold score vs oracle and random).
# The report (markdown + two PNGs) goes to $REPORT_DIR.
#
# Knobs (environment): SEEDS, STAGE1_STEPS, STAGE2_STEPS, LABELS, ADAPT_LABELS, ADAPT_STEPS,
# SFT_STEPS, BON_PROMPTS, BON_N, OUT, REPORT_DIR, GRAMRL. Before the policy stage was added the
# defaults took 1351 s (22.5 min) on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1"}
STAGE1_STEPS=${STAGE1_STEPS:-1500}
STAGE2_STEPS=${STAGE2_STEPS:-300}
LABELS=${LABELS:-2000}
ADAPT_LABELS=${ADAPT_LABELS:-"50 200 800"}
ADAPT_STEPS=${ADAPT_STEPS:-150}
SFT_STEPS=${SFT_STEPS:-600}
BON_PROMPTS=${BON_PROMPTS:-160}
BON_N=${BON_N:-16}
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

# The policy stage, in the background: SFT, then candidates and policy-sampled pairs per split.
# It ends by creating $D/policy.done (or $D/policy.failed); evaluations wait for it.
policy_stage() {
  local t0 model split families
  t0=$(date +%s)
  "$GRAMRL" world generate sft --n $((SFT_STEPS * BATCH)) --seed 400 --out "$D/sft.jsonl"
  "$GRAMRL" train sft configs/sft-toy.yaml experiment.output_dir="$OUT/runs" experiment.name=policy-sft \
    learner.data.train="$D/sft.jsonl" learner.total_steps="$SFT_STEPS" learner.resume=auto
  model=$(step_dir policy-sft "$SFT_STEPS")
  for split in id ood; do
    families=srt,ddp,add,rot
    [ "$split" = ood ] && families=rev,inc
    "$GRAMRL" world generate prompts --n "$BON_PROMPTS" --seed 998 --families "$families" \
      --out "$D/policy-prompts-$split.jsonl"
    "$GRAMRL" generate --model "$model" --tokenizer builtin:bytes --chat-template auto \
      --prompts "$D/policy-prompts-$split.jsonl" --samples "$BON_N" --temperature 0.7 --max-new-tokens 16 \
      --seed 7 --max-batch 256 --jsonl >"$D/policy-samples-$split.jsonl"
    "$GRAMRL" world candidates "$D/policy-samples-$split.jsonl" --out "$D/candidates-$split.jsonl" \
      --pairs-out "$D/policy-pairs-$split.jsonl" --pairs-per-prompt 2
  done
  echo "policy stage: $(($(date +%s) - t0)) s"
}
wait_for_policy() {
  while [ ! -f "$D/policy.done" ]; do
    [ -f "$D/policy.failed" ] && { say "the policy stage FAILED (see $OUT/logs/policy.log)"; return 1; }
    sleep 2
  done
}

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

# evaluate SEED NAME KIND MODEL [policy]: in- and out-of-distribution test pairs; with "policy",
# also the policy-sampled pairs and best-of-n over the policy's candidates.
evaluate() {
  local s=$1 name=$2 kind=$3 model=$4 policy=${5:-} split
  for split in id ood; do
    "$GRAMRL" gram eval "$D/test-$split.jsonl" --model "$model" --kind "$kind" --judge-template compact \
      --chat-template plain --max-tokens 128 --batch-size 128 --threads 1 \
      --out-json "$OUT/eval/s$s-$name-$split.json" >"$OUT/logs/s$s-$name-eval-$split.log" 2>&1 ||
      { say "seed $s: evaluating $name FAILED (see $OUT/logs/s$s-$name-eval-$split.log)"; return 1; }
    [ -n "$policy" ] || continue
    wait_for_policy
    "$GRAMRL" gram eval "$D/policy-pairs-$split.jsonl" --best-of-n "$D/candidates-$split.jsonl" --n-max "$BON_N" \
      --gold world --model "$model" --kind "$kind" --judge-template compact --chat-template plain --max-tokens 128 \
      --batch-size 128 --threads 1 --out-json "$OUT/eval/s$s-$name-policy-$split.json" \
      >"$OUT/logs/s$s-$name-eval-policy-$split.log" 2>&1 ||
      { say "seed $s: evaluating $name on policy samples FAILED (see $OUT/logs/s$s-$name-eval-policy-$split.log)"; return 1; }
  done
}

run_seed() {
  local s=$1 n
  train "$s" stage1 pretrain builtin:toy "$D/unlabeled-s$s.jsonl" "$STAGE1_STEPS" 1e-3
  local s1
  s1=$(step_dir "s$s-stage1" "$STAGE1_STEPS")
  evaluate "$s" likelihood likelihood "$s1" policy
  train "$s" gram finetune "$s1" "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" gram gram "$(step_dir "s$s-gram" "$STAGE2_STEPS")" policy
  train "$s" gen-only finetune builtin:toy "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" gen-only gram "$(step_dir "s$s-gen-only" "$STAGE2_STEPS")" policy
  train "$s" bt bt builtin:toy "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" bt bradley_terry "$(step_dir "s$s-bt" "$STAGE2_STEPS")" policy
  train "$s" bt-s1 bt "$s1" "$D/labeled-s$s.jsonl" "$STAGE2_STEPS" 5e-4
  evaluate "$s" bt-s1 bradley_terry "$(step_dir "s$s-bt-s1" "$STAGE2_STEPS")" policy
  for n in $ADAPT_LABELS; do
    train "$s" "adapt-gram-$n" finetune "$(step_dir "s$s-gram" "$STAGE2_STEPS")" "$D/adapt-s$s-$n.jsonl" \
      "$ADAPT_STEPS" 2e-4
    evaluate "$s" "adapt-gram-$n" gram "$(step_dir "s$s-adapt-gram-$n" "$ADAPT_STEPS")"
    train "$s" "adapt-scratch-$n" finetune builtin:toy "$D/adapt-s$s-$n.jsonl" "$ADAPT_STEPS" 5e-4
    evaluate "$s" "adapt-scratch-$n" gram "$(step_dir "s$s-adapt-scratch-$n" "$ADAPT_STEPS")"
  done
  say "seed $s: done"
}

rm -f "$D/policy.failed"
if [ ! -f "$D/policy.done" ]; then
  say "policy: SFT ($SFT_STEPS steps) and $BON_N candidates per prompt for $BON_PROMPTS ID + $BON_PROMPTS OOD prompts, in the background"
  (
    if policy_stage >>"$OUT/logs/policy.log" 2>&1; then
      touch "$D/policy.done"
      say "policy: done; $(grep -h '^world candidates' "$OUT/logs/policy.log" | sed 's/ (.*//' | tr '\n' ' ')"
    else
      touch "$D/policy.failed"
      say "policy: FAILED (see $OUT/logs/policy.log)"
    fi
  ) &
  policy_pid=$!
fi
say "training: seeds [$SEEDS] in parallel; logs in $OUT/logs (each run also writes metrics.jsonl)"
pids=()
for s in $SEEDS; do
  run_seed "$s" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ -z "${policy_pid:-}" ] || wait "$policy_pid" || true
[ -f "$D/policy.done" ] || failed=1
[ "$failed" -eq 0 ] || { say "a run failed; rerun this script to resume (finished runs are kept)"; exit 1; }

say "report: $REPORT_DIR/toy-reproduction.md and .png"
scripts/toy_report.sh "$OUT" "$REPORT_DIR" "$SEEDS" "$LABELS" "$ADAPT_LABELS" \
  "stage 1 $STAGE1_STEPS steps, stage 2 $STAGE2_STEPS steps, adaptation $ADAPT_STEPS steps, batch $BATCH; policy SFT $SFT_STEPS steps, best-of-$BON_N on $BON_PROMPTS + $BON_PROMPTS prompts" \
  "$(($(date +%s) - START))"
cat "$REPORT_DIR/toy-reproduction.md"
