#!/usr/bin/env bash
# rlhf_staleness: the RLHF pipeline's throughput and phase shares with rollout.max_staleness 0
# (strictly on-policy: the actors wait for each update) against 1 (the actors run one version
# ahead), measured back to back in one invocation on the same machine. Each run is
# configs/rlhf-toy.yaml (builtin:toy, rule reward world_gold, 2 actors, 1 reward replica, 2
# learner ranks, 32 samples per step) for STEPS steps; the first WARMUP steps are dropped.
# Reported from <run>/metrics.jsonl: wall seconds, samples/s and learner tokens/s (means), the
# learner's wall-time shares (waiting for the actors, making experience, the update, publishing
# weights), and the actors' generation and scoring seconds per step (actor-seconds, summed over
# actors). The last column is samples/s at staleness 1 over staleness 0.
# Usage: bench/rlhf_staleness.sh [STEPS] [WARMUP]   (defaults 40, 5); GRAMRL, OUT from the environment,
# and ARGS: more key=value overrides for both runs (e.g. "learner.ranks=1 rollout.actors=1", so
# that on 2 cores the learner and the actors each have one).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-40}
WARMUP=${2:-5}
GRAMRL=${GRAMRL:-build/launch/gramrl}
OUT=${OUT:-$(mktemp -d)}
ARGS=${ARGS:-}
echo "rlhf_staleness: configs/rlhf-toy.yaml $ARGS, $STEPS steps, steps 1-$WARMUP dropped; runs in $OUT"
printf '%-10s %8s %10s %10s | %8s %10s %8s %8s | %12s %10s | %s\n' max_staleness "wall s" samples/s tokens/s \
  waiting experience update publish "actor gen s" "reward s" "ratio"
base=""
for s in 0 1; do
  # shellcheck disable=SC2086 # ARGS is a list of key=value words
  "$GRAMRL" rlhf configs/rlhf-toy.yaml experiment.output_dir="$OUT" experiment.name="staleness-$s" \
    rollout.max_staleness="$s" learner.total_steps="$STEPS" learner.checkpoint.every_steps=0 \
    launch.status_interval_s=0 $ARGS >"$OUT/staleness-$s.log" 2>&1 ||
    { echo "run with max_staleness $s failed (see $OUT/staleness-$s.log)"; exit 1; }
  read -r wall sps tps wait exp upd pub gen rew < <(jq -s -r --argjson w "$WARMUP" '
    [.[] | select(.step > $w)] as $r | ($r | length) as $n |
    def mean(k): ([$r[][k]] | add) / $n;
    def share(k): ([$r[][k]] | add) / ([$r[]["time/step_s"]] | add);
    "\([$r[]["time/step_s"]] | add) \(mean("perf/samples_per_s")) \(mean("perf/tokens_per_s")) \(share("time/wait_s")) \(share("time/experience_s")) \(share("time/update_s")) \(share("time/weight_publish_s")) \(mean("time/actor_generation_s")) \(mean("time/actor_reward_s"))"' \
    "$OUT/staleness-$s/metrics.jsonl")
  [ -n "$base" ] || base=$sps
  printf '%-13s %8.1f %10.1f %10.0f | %7.1f%% %9.1f%% %7.1f%% %7.2f%% | %12.3f %10.3f | %.2f\n' "$s" "$wall" "$sps" "$tps" \
    "$(awk -v x="$wait" 'BEGIN { print 100 * x }')" "$(awk -v x="$exp" 'BEGIN { print 100 * x }')" \
    "$(awk -v x="$upd" 'BEGIN { print 100 * x }')" "$(awk -v x="$pub" 'BEGIN { print 100 * x }')" \
    "$gen" "$rew" "$(awk -v a="$sps" -v b="$base" 'BEGIN { print a / b }')"
done
