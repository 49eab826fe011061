#!/usr/bin/env bash
# GRAM's RLHF experiment at toy scale, on the built-in synthetic world (docs/toy-rlhf.md): the tiny
# SFT policy trained online against each reward model of the GRAM reproduction, by GRPO and PPO,
# judged afterwards by the world's gold judge, which no model sees.
#   1. data      demonstrations, unlabeled pairs, labelled pairs of the in-distribution families
#                (srt, ddp, add, rot), fixed held-out evaluation prompts (both splits)
#   2. policy    gramrl train sft (builtin:toy) } side by side
#                GRAM stage 1 on unlabeled pairs }
#   3. pairs     the SFT policy's own samples graded by the gold judge, added to the labels (real
#                preference data comes from model outputs)
#   4. rewards   on the same labels: GRAM (stage 2 from stage 1), generative stage-2 only (from
#                random init), Bradley-Terry (random init), Bradley-Terry from stage 1; the
#                label-free likelihood judge is the stage-1 model; the gold judge is the upper bound
#   5. best-of-n each reward model picks among BON_N samples of the SFT policy per held-out prompt
#   6. RLHF      gramrl rlhf configs/rlhf-repro-toy.yaml for every algorithm, RLHF setting (learning
#                rate and KL coefficient), reward model and seed
#   7. eval      gold score of the final policies on held-out prompts, win rate against the SFT
#                policy under the gold judge, gold against KL over training
# Every stage resumes: a rerun skips what is finished. Progress lines come every 30 s.
# Knobs (environment): SEEDS, ALGORITHMS, RLHF_SETTINGS (words lr<LR>-kl<KL>), REWARDS, SFT_STEPS,
# STAGE1_STEPS, STAGE2_STEPS, STAGE2_LR, LABELS, POLICY_PAIR_PROMPTS, RLHF_STEPS, EVAL_PROMPTS,
# EVAL_SAMPLES, BON_PROMPTS, BON_N, OUT, REPORT_DIR, GRAMRL.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1"}
ALGORITHMS=${ALGORITHMS:-"grpo ppo"}
# The first setting is the one fixed before the first runs; the second holds the policy closer to
# the SFT policy (docs/toy-rlhf.md, "What changed and why").
RLHF_SETTINGS=${RLHF_SETTINGS:-"lr2e-4-kl0.05 lr1e-4-kl0.2"}
REWARDS=${REWARDS:-"gold gram gen-only bt bt-s1 likelihood"}
SFT_STEPS=${SFT_STEPS:-400}
STAGE1_STEPS=${STAGE1_STEPS:-800}
STAGE2_STEPS=${STAGE2_STEPS:-600}
STAGE2_LR=${STAGE2_LR:-1e-4}
LABELS=${LABELS:-2000}
POLICY_PAIR_PROMPTS=${POLICY_PAIR_PROMPTS:-4000}
RLHF_STEPS=${RLHF_STEPS:-40}
EVAL_PROMPTS=${EVAL_PROMPTS:-100}
EVAL_SAMPLES=${EVAL_SAMPLES:-4}
BON_PROMPTS=${BON_PROMPTS:-100}
BON_N=${BON_N:-8}
OUT=${OUT:-runs/rlhf-toy}
REPORT_DIR=${REPORT_DIR:-$OUT}
GRAMRL=${GRAMRL:-build/launch/gramrl}
CONFIG=configs/rlhf-repro-toy.yaml
for setting in $RLHF_SETTINGS; do
  [[ $setting =~ ^lr[0-9.e+-]+-kl[0-9.e+-]+$ ]] ||
    { echo "RLHF_SETTINGS: '$setting' is not lr<LR>-kl<KL> (e.g. lr1e-4-kl0.2)" >&2; exit 2; }
done
BATCH=64
D=$OUT/data
M=$OUT/models
E=$OUT/eval
mkdir -p "$D" "$M" "$E" "$OUT/logs" "$REPORT_DIR"
START=$(date +%s)
say() { printf '[%4ds] %s\n' $(($(date +%s) - START)) "$*"; }
step_dir() { printf '%s/runs/%s/checkpoints/step-%08d/model' "$OUT" "$1" "$2"; }
fail() {
  say "$1 FAILED (see $2); rerun this script to resume"
  tail -n 5 "$2" >&2
  exit 1
}
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
# publish SRC NAME: copy a finished checkpoint to $M/NAME atomically.
publish() {
  [ -d "$M/$2" ] && return 0
  rm -rf "$M/$2.tmp"
  cp -r "$1" "$M/$2.tmp"
  mv "$M/$2.tmp" "$M/$2"
}
# train NAME LOG COMMAND...: a trainer run that resumes, published to $M/NAME when finished.
train() {
  local name=$1 log=$2 steps=$3
  shift 3
  [ -d "$M/$name" ] && return 0
  local t0
  t0=$(date +%s)
  "$@" experiment.output_dir="$OUT/runs" experiment.name="$name" learner.total_steps="$steps" \
    learner.resume=auto >"$log" 2>&1 || fail "training $name" "$log"
  publish "$(step_dir "$name" "$steps")" "$name"
  say "$name trained in $(($(date +%s) - t0)) s"
}
# sample MODEL PROMPTS N OUT: N samples per prompt at temperature 1, graded by the gold judge.
sample_graded() {
  [ -f "$4" ] && return 0
  "$GRAMRL" generate --model "$1" --tokenizer builtin:bytes --chat-template plain --prompts "$2" --samples "$3" \
    --temperature 1.0 --max-new-tokens 16 --seed 11 --max-batch 256 --jsonl >"$4.samples.tmp"
  "$GRAMRL" world candidates "$4.samples.tmp" --out "$4.tmp"
  rm -f "$4.samples.tmp"
  mv "$4.tmp" "$4"
}
# reward_args NAME: the reward.* overrides of reward model NAME.
reward_args() {
  case $1 in
    gold) echo "reward.backend=rule reward.rule.check=world_gold" ;;
    gram | gen-only) echo "reward.backend=gram reward.model=$M/$1" ;;
    bt | bt-s1) echo "reward.backend=bradley_terry reward.model=$M/$1" ;;
    likelihood) echo "reward.backend=likelihood reward.model=$M/stage1" ;;
    *) echo "unknown reward model $1" >&2; return 1 ;;
  esac
}
eval_kind() {
  case $1 in gram | gen-only) echo gram ;; bt | bt-s1) echo bradley_terry ;; likelihood) echo likelihood ;; esac
}
eval_model() { if [ "$1" = likelihood ]; then echo "$M/stage1"; else echo "$M/$1"; fi; }

say "data -> $D"
{
  "$GRAMRL" world generate sft --n $((SFT_STEPS * BATCH)) --seed 400 --out "$D/sft.jsonl"
  "$GRAMRL" world generate unlabeled --n $((STAGE1_STEPS * BATCH)) --seed 100 --out "$D/unlabeled.jsonl"
  "$GRAMRL" world generate labeled --n "$LABELS" --seed 200 --exclude-families rev,inc --out "$D/labeled.jsonl"
  "$GRAMRL" world generate prompts --n "$POLICY_PAIR_PROMPTS" --seed 500 --families srt,ddp,add,rot \
    --out "$D/pair-prompts.jsonl"
  "$GRAMRL" world generate prompts --n "$EVAL_PROMPTS" --seed 998 --families srt,ddp,add,rot --out "$D/eval-id.jsonl"
  "$GRAMRL" world generate prompts --n "$EVAL_PROMPTS" --seed 998 --families rev,inc --out "$D/eval-ood.jsonl"
  "$GRAMRL" world generate prompts --n "$BON_PROMPTS" --seed 997 --families srt,ddp,add,rot --out "$D/bon-id.jsonl"
  "$GRAMRL" world generate prompts --n "$BON_PROMPTS" --seed 997 --families rev,inc --out "$D/bon-ood.jsonl"
} 2>>"$OUT/logs/data.log"

ticker "$OUT/logs/sft.log" "$OUT/logs/stage1.log" "$OUT/logs/gram.log" "$OUT/logs/gen-only.log" "$OUT/logs/bt.log" \
  "$OUT/logs/bt-s1.log" &
ticker_pid=$!
trap 'kill "$ticker_pid" 2>/dev/null || true' EXIT
say "policy SFT ($SFT_STEPS steps) and GRAM stage 1 ($STAGE1_STEPS steps), side by side"
train sft "$OUT/logs/sft.log" "$SFT_STEPS" "$GRAMRL" train sft configs/sft-toy.yaml \
  learner.data.train="$D/sft.jsonl" &
sft_pid=$!
train stage1 "$OUT/logs/stage1.log" "$STAGE1_STEPS" "$GRAMRL" gram pretrain configs/gram-toy.yaml \
  learner.data.train="$D/unlabeled.jsonl"
wait "$sft_pid" || fail "SFT" "$OUT/logs/sft.log"

if [ ! -f "$D/policy-pairs.jsonl" ]; then
  say "policy-sampled pairs: the SFT policy's samples on $POLICY_PAIR_PROMPTS prompts, graded by the gold judge"
  "$GRAMRL" generate --model "$M/sft" --tokenizer builtin:bytes --chat-template plain --prompts "$D/pair-prompts.jsonl" \
    --samples 4 --temperature 1.0 --max-new-tokens 16 --seed 12 --max-batch 256 --jsonl \
    >"$D/pair-samples.jsonl" 2>>"$OUT/logs/data.log"
  "$GRAMRL" world candidates "$D/pair-samples.jsonl" --out "$D/pair-candidates.jsonl" \
    --pairs-out "$D/policy-pairs.jsonl.tmp" --pairs-per-prompt 2 2>>"$OUT/logs/data.log"
  mv "$D/policy-pairs.jsonl.tmp" "$D/policy-pairs.jsonl"
fi
cat "$D/labeled.jsonl" "$D/policy-pairs.jsonl" >"$D/stage2.jsonl"
for split in id ood; do
  if [ ! -f "$D/bon-candidates-$split.jsonl" ]; then
    "$GRAMRL" generate --model "$M/sft" --tokenizer builtin:bytes --chat-template plain --prompts "$D/bon-$split.jsonl" \
      --samples "$BON_N" --temperature 1.0 --max-new-tokens 16 --seed 13 --max-batch 256 --jsonl \
      >"$D/bon-samples-$split.jsonl" 2>>"$OUT/logs/data.log"
    "$GRAMRL" world candidates "$D/bon-samples-$split.jsonl" --out "$D/bon-candidates-$split.jsonl.tmp" \
      --pairs-out "$D/bon-pairs-$split.jsonl" --pairs-per-prompt 2 2>>"$OUT/logs/data.log"
    mv "$D/bon-candidates-$split.jsonl.tmp" "$D/bon-candidates-$split.jsonl"
  fi
done

say "reward models on $(wc -l <"$D/stage2.jsonl") labelled pairs ($STAGE2_STEPS steps each, two at a time)"
R=(reward.model="$M/stage1" learner.data.train="$D/stage2.jsonl" learner.lr="$STAGE2_LR")
S=(reward.model=builtin:toy learner.data.train="$D/stage2.jsonl" learner.lr="$STAGE2_LR")
train gram "$OUT/logs/gram.log" "$STAGE2_STEPS" "$GRAMRL" gram finetune configs/gram-toy.yaml "${R[@]}" &
p1=$!
train gen-only "$OUT/logs/gen-only.log" "$STAGE2_STEPS" "$GRAMRL" gram finetune configs/gram-toy.yaml "${S[@]}"
wait "$p1" || exit 1
train bt "$OUT/logs/bt.log" "$STAGE2_STEPS" "$GRAMRL" gram bt configs/gram-toy.yaml "${S[@]}" &
p1=$!
train bt-s1 "$OUT/logs/bt-s1.log" "$STAGE2_STEPS" "$GRAMRL" gram bt configs/gram-toy.yaml "${R[@]}"
wait "$p1" || exit 1
kill "$ticker_pid" 2>/dev/null || true

say "best-of-$BON_N with each reward model on $BON_PROMPTS + $BON_PROMPTS held-out prompts"
for rm in $REWARDS; do
  [ "$rm" = gold ] && continue
  for split in id ood; do
    f=$E/bon-$rm-$split.json
    [ -f "$f" ] && continue
    "$GRAMRL" gram eval "$D/bon-pairs-$split.jsonl" --best-of-n "$D/bon-candidates-$split.jsonl" --n-max "$BON_N" \
      --gold world --model "$(eval_model "$rm")" --kind "$(eval_kind "$rm")" --judge-template compact \
      --chat-template plain --max-tokens 128 --batch-size 128 --threads 2 --out-json "$f.tmp" \
      >"$OUT/logs/bon-$rm-$split.log" 2>&1 || fail "best-of-n with $rm" "$OUT/logs/bon-$rm-$split.log"
    mv "$f.tmp" "$f"
  done
done

say "evaluation prompts: the SFT policy's samples"
for split in id ood; do sample_graded "$M/sft" "$D/eval-$split.jsonl" "$EVAL_SAMPLES" "$E/sft-$split.jsonl"; done

# An RLHF variant is an algorithm with a setting: grpo-lr2e-4-kl0.05. ppo and grpo read their KL
# coefficient from learner.<algorithm>.kl_coef; rloo, remax and the rest read learner.grpo's.
variants=()
for algorithm in $ALGORITHMS; do for setting in $RLHF_SETTINGS; do variants+=("$algorithm-$setting"); done; done
variant_args() {
  local algorithm=${1%%-lr*} setting=${1#*-lr}
  local lr=${setting%%-kl*} kl=${setting##*-kl} section=grpo
  [ "$algorithm" = ppo ] && section=ppo
  echo "learner.algorithm=$algorithm learner.lr=$lr learner.$section.kl_coef=$kl"
}
total=$(($(echo "$SEEDS" | wc -w) * ${#variants[@]} * $(echo "$REWARDS" | wc -w)))
done_runs=0
for seed in $SEEDS; do
  for variant in "${variants[@]}"; do
    for rm in $REWARDS; do
      name=$variant-$rm-s$seed
      done_runs=$((done_runs + 1))
      final=$(step_dir "$name" "$RLHF_STEPS")
      if [ ! -f "$OUT/runs/$name/summary.json" ]; then
        say "RLHF $done_runs/$total: $variant against $rm, seed $seed ($RLHF_STEPS steps; log $OUT/logs/$name.log)"
        t0=$(date +%s)
        # shellcheck disable=SC2046 # variant_args and reward_args print key=value words
        "$GRAMRL" rlhf "$CONFIG" experiment.output_dir="$OUT/runs" experiment.name="$name" experiment.seed="$seed" \
          policy.model="$M/sft" $(variant_args "$variant") learner.total_steps="$RLHF_STEPS" \
          $(reward_args "$rm") >"$OUT/logs/$name.log" 2>&1 || fail "RLHF $name" "$OUT/logs/$name.log"
        say "  $name: $(($(date +%s) - t0)) s; $(jq -r '.final_metrics | "gold \(.["reward/gold"] * 1000 | round / 1000), KL per token \(.["kl/per_token"] * 1000 | round / 1000)"' "$OUT/runs/$name/summary.json")"
      fi
      for split in id ood; do sample_graded "$final" "$D/eval-$split.jsonl" "$EVAL_SAMPLES" "$E/$name-$split.jsonl"; done
    done
  done
done

say "report: $REPORT_DIR/toy-rlhf.md"
scripts/rlhf_toy_report.sh "$OUT" "$REPORT_DIR" "$SEEDS" "${variants[*]}" "$REWARDS" "$BON_N" \
  "SFT $SFT_STEPS steps; stage 1 $STAGE1_STEPS steps; reward models $STAGE2_STEPS steps at lr $STAGE2_LR on $(wc -l <"$D/stage2.jsonl") pairs; RLHF $RLHF_STEPS steps of 16 prompts x 4 samples; evaluation $EVAL_SAMPLES samples x $EVAL_PROMPTS prompts per split" \
  "$(($(date +%s) - START))"
cat "$REPORT_DIR/toy-rlhf.md"
