#!/usr/bin/env bash
# The probes behind docs/toy-rlhf.md's "What changed and why": GRAM stage-2 variants judged by pair
# accuracy and best-of-8 on the SFT policy's own samples, then short GRPO runs against them. They
# start from the models and data of a first-settings run of scripts/reproduce_rlhf_toy.sh:
#   SEEDS=0 ALGORITHMS=grpo RLHF_SETTINGS=lr2e-4-kl0.05 REWARDS="gold gram likelihood" \
#     POLICY_PAIR_PROMPTS=1000 STAGE2_STEPS=300 STAGE2_LR=5e-4 OUT=runs/rlhf-toy-first \
#     scripts/reproduce_rlhf_toy.sh
#   scripts/rlhf_toy_probes.sh runs/rlhf-toy-first
# Writes OUT/probes/stage2.md and OUT/probes/rlhf.md (seed 0; 100 + 100 held-out prompts x 4
# samples for gold). Every probe resumes: a rerun skips what is finished.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:?usage: rlhf_toy_probes.sh OUT (of a first-settings reproduce_rlhf_toy.sh run)}
GRAMRL=${GRAMRL:-build/launch/gramrl}
D=$R/data
P=$R/probes
if [ ! -d "$R/models/stage1" ] || [ ! -d "$R/models/sft" ] || [ ! -f "$D/stage2.jsonl" ]; then
  echo "$R holds no finished reproduce_rlhf_toy.sh run (models/stage1, models/sft, data/stage2.jsonl)" >&2
  exit 1
fi
mkdir -p -- "$P"

# More of the SFT policy's own pairs: 4000 further prompts, 4 samples each, graded by the gold judge.
if [ ! -f "$D/policy-pairs-4k.jsonl" ]; then
  "$GRAMRL" world generate prompts --n 4000 --seed 501 --families srt,ddp,add,rot --out "$D/pair-prompts-4k.jsonl"
  "$GRAMRL" generate --model "$R/models/sft" --tokenizer builtin:bytes --chat-template plain \
    --prompts "$D/pair-prompts-4k.jsonl" --samples 4 --temperature 1.0 --max-new-tokens 16 --seed 14 --max-batch 256 \
    --jsonl >"$D/pair-samples-4k.jsonl"
  "$GRAMRL" world candidates "$D/pair-samples-4k.jsonl" --out "$D/pair-candidates-4k.jsonl" \
    --pairs-out "$D/policy-pairs-4k.jsonl.tmp" --pairs-per-prompt 2
  mv "$D/policy-pairs-4k.jsonl.tmp" "$D/policy-pairs-4k.jsonl"
fi
cat "$D/labeled.jsonl" "$D/policy-pairs-4k.jsonl" >"$D/stage2-big.jsonl"
cat "$D/policy-pairs.jsonl" "$D/policy-pairs-4k.jsonl" >"$D/policy-only.jsonl"

ckpt() { printf '%s/runs/%s/checkpoints/step-%08d/model' "$P" "$1" "$2"; }
# stage2 NAME DATA STEPS LR: GRAM stage 2 from the stage-1 model, then gram eval on the best-of-n pairs.
stage2() {
  local name=$1 data=$2 steps=$3 lr=$4
  if [ ! -d "$(ckpt "$name" "$steps")" ]; then
    "$GRAMRL" gram finetune configs/gram-toy.yaml reward.model="$R/models/stage1" learner.data.train="$data" \
      learner.lr="$lr" experiment.output_dir="$P/runs" experiment.name="$name" learner.total_steps="$steps" \
      learner.resume=auto >"$P/$name.log" 2>&1 || { echo "stage 2 $name failed: $P/$name.log" >&2; exit 1; }
  fi
  for split in id ood; do
    [ -f "$P/$name-$split.json" ] && continue
    "$GRAMRL" gram eval "$D/bon-pairs-$split.jsonl" --best-of-n "$D/bon-candidates-$split.jsonl" --n-max 8 --gold world \
      --model "$(ckpt "$name" "$steps")" --kind gram --judge-template compact --chat-template plain --max-tokens 128 \
      --batch-size 128 --threads 1 --out-json "$P/$name-$split.json.tmp" >>"$P/$name.log" 2>&1
    mv "$P/$name-$split.json.tmp" "$P/$name-$split.json"
  done
}
acc() { jq -r '.groups[] | select(.name == "all") | (.accuracy.debiased // .accuracy.score)' "$1"; }
bo8() { jq -r '.best_of_n.points[] | select(.n == 8) | .selected' "$1"; }
stage2 lr1e-4 "$D/stage2.jsonl" 300 1e-4
stage2 lr5e-5 "$D/stage2.jsonl" 300 5e-5
stage2 lr2e-5 "$D/stage2.jsonl" 300 2e-5
stage2 lr1e-4-600 "$D/stage2.jsonl" 600 1e-4
stage2 big-lr1e-4 "$D/stage2-big.jsonl" 600 1e-4
stage2 pol-lr1e-4 "$D/policy-only.jsonl" 600 1e-4
{
  echo "| stage 2 | pairs | steps | lr | accuracy ID | accuracy OOD | best-of-8 ID | best-of-8 OOD |"
  echo "|---|---|---|---|---|---|---|---|"
  row() { printf '| %s | %s | %s | %s | %.3f | %.3f | %.3f | %.3f |\n' "$1" "$2" "$3" "$4" "$(acc "$5-id.json")" \
    "$(acc "$5-ood.json")" "$(bo8 "$5-id.json")" "$(bo8 "$5-ood.json")"; }
  n1=$(wc -l <"$D/stage2.jsonl") n2=$(wc -l <"$D/stage2-big.jsonl") n3=$(wc -l <"$D/policy-only.jsonl")
  row "first settings" "$n1" 300 5e-4 "$R/eval/bon-gram"
  row "lower lr" "$n1" 300 1e-4 "$P/lr1e-4"
  row "lower lr" "$n1" 300 5e-5 "$P/lr5e-5"
  row "lower lr" "$n1" 300 2e-5 "$P/lr2e-5"
  row "longer" "$n1" 600 1e-4 "$P/lr1e-4-600"
  row "4x the policy's pairs" "$n2" 600 1e-4 "$P/big-lr1e-4"
  row "the policy's pairs only" "$n3" 600 1e-4 "$P/pol-lr1e-4"
  row "likelihood judge (no labels)" 0 - - "$R/eval/bon-likelihood"
  printf '| random | | | | 0.5 | 0.5 | %.3f | %.3f |\n' "$(jq -r '.best_of_n.points[] | select(.n == 8) | .random' \
    "$R/eval/bon-gram-id.json")" "$(jq -r '.best_of_n.points[] | select(.n == 8) | .random' "$R/eval/bon-gram-ood.json")"
} >"$P/stage2.md"
cat "$P/stage2.md"

# rlhf NAME REWARD_ARGS [overrides]: 40 GRPO steps of configs/rlhf-repro-toy.yaml, then gold on held-out prompts.
gold() { jq -s '[.[].gold[]] | add / length' "$1"; }
rlhf() {
  local name=$1 reward=$2
  shift 2
  if [ ! -f "$P/runs/$name/summary.json" ]; then
    # shellcheck disable=SC2086 # reward is a list of key=value words
    "$GRAMRL" rlhf configs/rlhf-repro-toy.yaml experiment.output_dir="$P/runs" experiment.name="$name" \
      experiment.seed=0 policy.model="$R/models/sft" learner.algorithm=grpo learner.total_steps=40 \
      learner.lr=2e-4 learner.grpo.kl_coef=0.05 $reward "$@" >"$P/$name.log" 2>&1 ||
      { echo "RLHF $name failed: $P/$name.log" >&2; exit 1; }
  fi
  for split in id ood; do
    [ -f "$P/$name-$split.gold.jsonl" ] && continue
    "$GRAMRL" generate --model "$(printf '%s/runs/%s/checkpoints/step-%08d/model' "$P" "$name" 40)" \
      --tokenizer builtin:bytes --chat-template plain --prompts "$D/eval-$split.jsonl" --samples 4 --temperature 1.0 \
      --max-new-tokens 16 --seed 11 --max-batch 256 --jsonl >"$P/$name-$split.samples.jsonl" 2>>"$P/$name.log"
    "$GRAMRL" world candidates "$P/$name-$split.samples.jsonl" --out "$P/$name-$split.gold.jsonl" 2>>"$P/$name.log"
  done
  printf '| %s | %s | %.3f | %.3f | %.3f |\n' "$name" "$*" "$(gold "$P/$name-id.gold.jsonl")" \
    "$(gold "$P/$name-ood.gold.jsonl")" "$(jq -r '.final_metrics["kl/per_token"]' "$P/runs/$name/summary.json")"
}
first="reward.backend=gram reward.model=$R/models/gram"
longer="reward.backend=gram reward.model=$(ckpt lr1e-4-600 600)"
big="reward.backend=gram reward.model=$(ckpt big-lr1e-4 600)"
gold_rule="reward.backend=rule reward.rule.check=world_gold"
likelihood="reward.backend=likelihood reward.model=$R/models/stage1"
{
  echo "| run | overrides (default: lr 2e-4, KL 0.05, running normalisation) | gold ID | gold OOD | KL per token |"
  echo "|---|---|---|---|---|"
  printf '| SFT policy | | %.3f | %.3f | 0 |\n' "$(gold "$R/eval/sft-id.jsonl")" "$(gold "$R/eval/sft-ood.jsonl")"
  rlhf gold "$gold_rule"
  rlhf gold-lr5e-5 "$gold_rule" learner.lr=5e-5
  rlhf first "$first"
  rlhf first-lr5e-5 "$first" learner.lr=5e-5
  rlhf first-kl0.2 "$first" learner.grpo.kl_coef=0.2
  rlhf first-nonorm "$first" learner.reward_shaping.normalize=false
  rlhf longer "$longer"
  rlhf longer-lr5e-5 "$longer" learner.lr=5e-5
  rlhf longer-nonorm "$longer" learner.reward_shaping.normalize=false
  rlhf longer-lr1e-4-kl0.2 "$longer" learner.lr=1e-4 learner.grpo.kl_coef=0.2
  rlhf big "$big"
  rlhf big-lr5e-5 "$big" learner.lr=5e-5
  rlhf likelihood "$likelihood"
  rlhf likelihood-lr5e-5 "$likelihood" learner.lr=5e-5
} >"$P/rlhf.md"
cat "$P/rlhf.md"
