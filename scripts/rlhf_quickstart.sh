#!/usr/bin/env bash
# The RLHF experiment of the main job (scripts/quickstart.sh runs it after setup and build), on
# the built-in synthetic world, on this machine's CPU cores:
#   1. data      world demonstrations, unlabeled pairs, labelled pairs of the 4 in-distribution
#                families (srt, ddp, add, rot), fixed held-out evaluation prompts
#   2. policy    gramrl train sft: builtin:toy on the noisy demonstrations           } in parallel
#   3. GRAM      gramrl gram pretrain (stage 1) on the unlabeled pairs                }
#                gramrl gram finetune (stage 2) on the labelled pairs plus pairs of the SFT
#                policy's own samples graded by the gold judge (as real preference data comes
#                from model outputs)
#   4. RLHF      gramrl rlhf configs/quickstart.yaml: GRPO of the SFT policy against the GRAM
#                reward (2 actors, 1 reward replica, 2 learner ranks, separate processes)
#   5. report    the gold score of samples of the policy before and after RLHF on held-out
#                prompts (in-distribution families and the held-out families rev, inc), and a
#                PNG of gold and reward-model reward over the RLHF steps
# Every stage resumes: rerunning the script skips what is finished and resumes what is not.
# Knobs (environment): SFT_STEPS, STAGE1_STEPS, STAGE2_STEPS, LABELS, POLICY_PAIR_PROMPTS,
# RLHF_STEPS, EVAL_PROMPTS, EVAL_SAMPLES, OUT, GRAMRL, and RLHF_ARGS (extra key=value overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
SFT_STEPS=${SFT_STEPS:-400}
STAGE1_STEPS=${STAGE1_STEPS:-800}
STAGE2_STEPS=${STAGE2_STEPS:-600}
LABELS=${LABELS:-2000}
POLICY_PAIR_PROMPTS=${POLICY_PAIR_PROMPTS:-4000}
RLHF_STEPS=${RLHF_STEPS:-60}
EVAL_PROMPTS=${EVAL_PROMPTS:-200}
EVAL_SAMPLES=${EVAL_SAMPLES:-4}
OUT=${OUT:-runs/quickstart}
GRAMRL=${GRAMRL:-build/launch/gramrl}
RLHF_ARGS=${RLHF_ARGS:-}
CONFIG=configs/quickstart.yaml
BATCH=64
D=$OUT/data
M=$OUT/models
mkdir -p "$D" "$M" "$OUT/logs" "$OUT/eval"
START=$(date +%s)
say() { printf '[%4ds] %s\n' $(($(date +%s) - START)) "$*"; }
step_dir() { printf '%s/runs/%s/checkpoints/step-%08d/model' "$OUT" "$1" "$2"; }
# ticker LOG...: every 30 s, the newest progress line of each log (runs until killed).
ticker() {
  while sleep 30; do
    for f in "$@"; do
      local line
      line=$(grep -a ' ETA ' "$f" 2>/dev/null | tail -n 1 | sed 's/^.*\] //') || true
      [ -z "$line" ] || say "  $line"
    done
  done
}
fail() {
  say "$1 FAILED (see $2); rerun this script to resume"
  tail -n 5 "$2" >&2
  exit 1
}

# train NAME LOG COMMAND... : a trainer run that resumes (learner.resume=auto).
train() {
  local name=$1 log=$2
  shift 2
  local t0
  t0=$(date +%s)
  "$@" experiment.output_dir="$OUT/runs" experiment.name="$name" learner.resume=auto >"$log" 2>&1 ||
    { echo "FAILED" >"$OUT/logs/$name.failed"; return 1; }
  say "$name trained in $(($(date +%s) - t0)) s"
}

# publish SRC NAME: copy a finished checkpoint to $M/NAME atomically (the config's model paths).
publish() {
  [ -d "$M/$2" ] && return 0
  rm -rf "$M/$2.tmp"
  cp -r "$1" "$M/$2.tmp"
  mv "$M/$2.tmp" "$M/$2"
}

# sample MODEL PROMPTS OUT: EVAL_SAMPLES samples per prompt at the rollout temperature.
sample() {
  "$GRAMRL" generate --model "$1" --tokenizer builtin:bytes --chat-template plain --prompts "$2" \
    --samples "$EVAL_SAMPLES" --temperature 1.0 --max-new-tokens 16 --seed 11 --max-batch 256 --jsonl >"$3.tmp"
  mv "$3.tmp" "$3"
}

say "data: demonstrations, unlabeled and labelled pairs, held-out evaluation prompts -> $D"
"$GRAMRL" world generate sft --n $((SFT_STEPS * BATCH)) --seed 400 --out "$D/sft.jsonl" 2>>"$OUT/logs/data.log"
"$GRAMRL" world generate unlabeled --n $((STAGE1_STEPS * BATCH)) --seed 100 --out "$D/unlabeled.jsonl" \
  2>>"$OUT/logs/data.log"
"$GRAMRL" world generate labeled --n "$LABELS" --seed 200 --exclude-families rev,inc --out "$D/labeled.jsonl" \
  2>>"$OUT/logs/data.log"
"$GRAMRL" world generate prompts --n "$POLICY_PAIR_PROMPTS" --seed 500 --families srt,ddp,add,rot \
  --out "$D/pair-prompts.jsonl" 2>>"$OUT/logs/data.log"
"$GRAMRL" world generate prompts --n "$EVAL_PROMPTS" --seed 998 --families srt,ddp,add,rot \
  --out "$D/eval-id.jsonl" 2>>"$OUT/logs/data.log"
"$GRAMRL" world generate prompts --n "$EVAL_PROMPTS" --seed 998 --families rev,inc \
  --out "$D/eval-ood.jsonl" 2>>"$OUT/logs/data.log"

# The policy and GRAM stage 1 run side by side, one core each.
rm -f "$OUT"/logs/*.failed
ticker "$OUT/logs/sft.log" "$OUT/logs/stage1.log" "$OUT/logs/stage2.log" &
ticker_pid=$!
trap 'kill "$ticker_pid" 2>/dev/null || true' EXIT
if [ ! -d "$M/sft" ]; then
  say "policy: SFT of builtin:toy, $SFT_STEPS steps (log: $OUT/logs/sft.log)"
  (train sft "$OUT/logs/sft.log" "$GRAMRL" train sft configs/sft-toy.yaml learner.data.train="$D/sft.jsonl" \
    learner.total_steps="$SFT_STEPS" && publish "$(step_dir sft "$SFT_STEPS")" sft) &
  sft_pid=$!
fi
if [ ! -d "$M/stage1" ]; then
  say "GRAM stage 1: $STAGE1_STEPS steps on unlabeled pairs (log: $OUT/logs/stage1.log)"
  train stage1 "$OUT/logs/stage1.log" "$GRAMRL" gram pretrain configs/gram-toy.yaml \
    learner.data.train="$D/unlabeled.jsonl" learner.total_steps="$STAGE1_STEPS" ||
    fail "GRAM stage 1" "$OUT/logs/stage1.log"
  publish "$(step_dir stage1 "$STAGE1_STEPS")" stage1
fi
[ -z "${sft_pid:-}" ] || wait "$sft_pid" || fail "SFT" "$OUT/logs/sft.log"

if [ ! -f "$D/policy-pairs.jsonl" ]; then
  say "policy-sampled pairs: the SFT policy's samples on $POLICY_PAIR_PROMPTS prompts, graded by the gold judge"
  sample "$M/sft" "$D/pair-prompts.jsonl" "$D/pair-samples.jsonl" 2>>"$OUT/logs/data.log"
  "$GRAMRL" world candidates "$D/pair-samples.jsonl" --out "$D/pair-candidates.jsonl" \
    --pairs-out "$D/policy-pairs.jsonl.tmp" --pairs-per-prompt 2 2>>"$OUT/logs/data.log"
  mv "$D/policy-pairs.jsonl.tmp" "$D/policy-pairs.jsonl"
fi
cat "$D/labeled.jsonl" "$D/policy-pairs.jsonl" >"$D/stage2.jsonl"

# Stage 2, with the baseline evaluation of the SFT policy beside it.
if [ ! -f "$OUT/eval/before-ood.jsonl" ]; then
  (for split in id ood; do sample "$M/sft" "$D/eval-$split.jsonl" "$OUT/eval/before-$split.jsonl"; done) \
    2>>"$OUT/logs/eval.log" &
  eval_pid=$!
fi
if [ ! -d "$M/gram" ]; then
  say "GRAM stage 2: $STAGE2_STEPS steps on $(wc -l <"$D/stage2.jsonl") labelled pairs (log: $OUT/logs/stage2.log)"
  train stage2 "$OUT/logs/stage2.log" "$GRAMRL" gram finetune configs/gram-toy.yaml reward.model="$M/stage1" \
    learner.data.train="$D/stage2.jsonl" learner.total_steps="$STAGE2_STEPS" learner.lr=1e-4 ||
    fail "GRAM stage 2" "$OUT/logs/stage2.log"
  publish "$(step_dir stage2 "$STAGE2_STEPS")" gram
fi
[ -z "${eval_pid:-}" ] || wait "$eval_pid" || fail "sampling the SFT policy" "$OUT/logs/eval.log"

kill "$ticker_pid" 2>/dev/null || true
say "RLHF: gramrl rlhf $CONFIG ($RLHF_STEPS GRPO steps; 2 actors, 1 reward replica, 2 learner ranks; log: $OUT/logs/rlhf.log)"
t0=$(date +%s)
# shellcheck disable=SC2086 # RLHF_ARGS is a list of key=value words
if ! "$GRAMRL" rlhf "$CONFIG" experiment.output_dir="$OUT/runs" policy.model="$M/sft" reward.model="$M/gram" \
  learner.total_steps="$RLHF_STEPS" $RLHF_ARGS 2>&1 | tee "$OUT/logs/rlhf.log"; then
  fail "RLHF" "$OUT/logs/rlhf.log"
fi
say "RLHF finished in $(($(date +%s) - t0)) s"
final=$(printf '%s/runs/rlhf/checkpoints/step-%08d/model' "$OUT" "$RLHF_STEPS")
[ -d "$final" ] || { say "no final checkpoint at $final"; exit 1; }

say "evaluation: $EVAL_SAMPLES samples per held-out prompt from the policy after RLHF, graded by the gold judge"
for split in id ood; do
  sample "$final" "$D/eval-$split.jsonl" "$OUT/eval/after-$split.jsonl" 2>>"$OUT/logs/eval.log"
  for when in before after; do
    "$GRAMRL" world candidates "$OUT/eval/$when-$split.jsonl" --out "$OUT/eval/$when-$split-gold.jsonl" \
      2>>"$OUT/logs/eval.log"
  done
done
scripts/rlhf_report.sh "$OUT" "$(($(date +%s) - START))"
cat "$OUT/quickstart.md"
