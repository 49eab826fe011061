#!/usr/bin/env bash
# The report of scripts/reproduce_rlhf_toy.sh: toy-rlhf.md (the gold score of every final policy
# on held-out prompts, its win rate against the SFT policy under the gold judge, its KL, and
# best-of-n with each reward model) and two PNGs (gnuplot): gold over the RLHF steps, and gold
# against KL to the SFT policy (over-optimisation curves), both on the training samples.
# Usage: rlhf_toy_report.sh OUT REPORT_DIR SEEDS VARIANTS REWARDS BON_N SETTINGS SECONDS
# (VARIANTS: the run names' first part, an algorithm and its RLHF setting, e.g. grpo-lr1e-4-kl0.2)
set -euo pipefail
OUT=$1 REPORT_DIR=$2 SEEDS=$3 ALGORITHMS=$4 REWARDS=$5 BON_N=$6 SETTINGS=$7 SECONDS_TOTAL=$8
E=$OUT/eval
MD=$REPORT_DIR/toy-rlhf.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

label() {
  case $1 in
    gold) echo "gold judge (upper bound)" ;;
    gram) echo "GRAM (stage 1 + 2)" ;;
    gen-only) echo "generative, stage 2 only" ;;
    bt) echo "Bradley-Terry" ;;
    bt-s1) echo "Bradley-Terry from stage 1" ;;
    likelihood) echo "likelihood judge (no labels)" ;;
    *) echo "$1" ;;
  esac
}
# mean of the numbers on stdin (or "-"), and their spread as (max - min) / 2
mean() { awk '{ s += $1; n++; if (n == 1 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 }
  END { if (n == 0) print "-"; else if (n == 1) printf "%.3f", s / n; else printf "%.3f ± %.3f", s / n, (hi - lo) / 2 }'; }
# gold FILE -> mean gold over every sample
gold() { jq -s '[.[].gold[]] | add / length' "$1"; }
# win POLICY SFT -> share of (prompt, sample) where the policy's sample beats the SFT's (ties 1/2)
win() {
  jq -n --slurpfile a "$1" --slurpfile b "$2" '
    if ($a | length) != ($b | length) then error("different prompts") else
    [range(0; $a | length) as $i |
      if $a[$i].prompt != $b[$i].prompt then error("prompt \($i) differs") else
      range(0; [($a[$i].gold | length), ($b[$i].gold | length)] | min) as $k |
      ($a[$i].gold[$k]) as $x | ($b[$i].gold[$k]) as $y |
      if $x > $y then 1 elif $x == $y then 0.5 else 0 end end] | add / length end'
}
final() { jq -r ".final_metrics[\"$2\"]" "$OUT/runs/$1/summary.json"; }

{
  echo "# GRAM's RLHF experiment at toy scale"
  echo
  echo "Made by \`scripts/reproduce_rlhf_toy.sh\` in $SECONDS_TOTAL s on this machine ($SETTINGS; seeds $SEEDS)."
  echo "The tiny SFT policy (builtin:toy on the world's noisy demonstrations) is trained online by"
  echo "\`gramrl rlhf configs/rlhf-repro-toy.yaml\` against each reward model; all reward models are trained"
  echo "on the same labels (pairs of the in-distribution families srt, ddp, add, rot, plus pairs of the SFT"
  echo "policy's own samples graded by the gold judge). Gold: the world's programmatic judge, which"
  echo "no model sees. Held-out prompts: in-distribution families (ID) and the held-out families rev, inc"
  echo "(OOD). Win rate: the share of (prompt, sample) pairs where the RLHF policy's sample scores higher"
  echo "with the gold judge than the SFT policy's sample of the same index (ties count half). KL: the"
  echo "last step's mean KL estimate per token to the SFT policy on the training samples. Mean over seeds ±"
  echo "half the range."
  echo
  echo "| algorithm | reward model | gold ID | gold OOD | win rate vs SFT (ID) | win rate vs SFT (OOD) | KL per token |"
  echo "|---|---|---|---|---|---|---|"
  printf '| (none) | SFT policy | %.3f | %.3f | 0.500 | 0.500 | 0 |\n' "$(gold "$E/sft-id.jsonl")" "$(gold "$E/sft-ood.jsonl")"
  for algorithm in $ALGORITHMS; do
    for rm in $REWARDS; do
      cols=()
      for what in gold-id gold-ood win-id win-ood kl; do
        v=$(for s in $SEEDS; do
          name=$algorithm-$rm-s$s
          # A run that has not finished yet (the script resumes) leaves its cell empty.
          case $what in
            gold-*) if [ -f "$E/$name-${what#gold-}.jsonl" ]; then gold "$E/$name-${what#gold-}.jsonl"; fi ;;
            win-*) if [ -f "$E/$name-${what#win-}.jsonl" ]; then win "$E/$name-${what#win-}.jsonl" "$E/sft-${what#win-}.jsonl"; fi ;;
            kl) if [ -f "$OUT/runs/$name/summary.json" ]; then final "$name" kl/per_token; fi ;;
          esac
        done | mean)
        cols+=("$v")
      done
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$algorithm" "$(label "$rm")" "${cols[@]}"
    done
  done
  echo
  echo "Best-of-$BON_N among the SFT policy's samples (mean gold of the selected sample; oracle = best of"
  echo "the $BON_N by gold, random = mean of the $BON_N):"
  echo
  echo "| reward model | ID | OOD |"
  echo "|---|---|---|"
  bon() { jq -r --argjson n "$BON_N" --arg k "$2" '(.best_of_n.points[] | select(.n == $n) | .[$k]) // "-"' "$1"; }
  for rm in $REWARDS; do
    [ "$rm" = gold ] && continue
    [ -f "$E/bon-$rm-id.json" ] || continue
    printf '| %s | %.3f | %.3f |\n' "$(label "$rm")" "$(bon "$E/bon-$rm-id.json" selected)" \
      "$(bon "$E/bon-$rm-ood.json" selected)"
  done
  first=$(echo "$REWARDS" | tr ' ' '\n' | grep -v '^gold$' | head -n 1)
  if [ -n "$first" ] && [ -f "$E/bon-$first-id.json" ]; then
    printf '| oracle | %.3f | %.3f |\n' "$(bon "$E/bon-$first-id.json" oracle)" "$(bon "$E/bon-$first-ood.json" oracle)"
    printf '| random | %.3f | %.3f |\n' "$(bon "$E/bon-$first-id.json" random)" "$(bon "$E/bon-$first-ood.json" random)"
  fi
  echo
  echo "Pair accuracy on held-out pairs of the SFT policy's samples (the best-of-n prompts, pairs with"
  echo "different gold scores; generative judges debiased over both orders):"
  echo
  echo "| reward model | accuracy ID | accuracy OOD | pairs ID | pairs OOD |"
  echo "|---|---|---|---|---|"
  acc() { jq -r '.groups[] | select(.name == "all") | (.accuracy.debiased // .accuracy.score // .accuracy.reward //
    ([.accuracy[] | select(. != null)] | first))' "$1"; }
  pairs() { jq -r '.groups[] | select(.name == "all") | .pairs' "$1"; }
  for rm in $REWARDS; do
    [ "$rm" = gold ] && continue
    [ -f "$E/bon-$rm-id.json" ] || continue
    printf '| %s | %.3f | %.3f | %s | %s |\n' "$(label "$rm")" "$(acc "$E/bon-$rm-id.json")" \
      "$(acc "$E/bon-$rm-ood.json")" "$(pairs "$E/bon-$rm-id.json")" "$(pairs "$E/bon-$rm-ood.json")"
  done
  echo
  echo "![gold over the RLHF steps](toy-rlhf-steps.png)"
  echo
  echo "![gold against KL](toy-rlhf-kl.png)"
} >"$MD"

# Per algorithm and reward model: step, gold, KL per token, averaged over seeds and over windows of
# 5 steps (the training samples are few per step).
for algorithm in $ALGORITHMS; do
  for rm in $REWARDS; do
    for s in $SEEDS; do
      f=$OUT/runs/$algorithm-$rm-s$s/metrics.jsonl
      if [ -f "$f" ]; then jq -r 'select(has("reward/gold")) | "\(.step) \(.["reward/gold"]) \(.["kl/per_token"])"' "$f"; fi
    done | sort -n -k1,1 | awk '{ w = int(($1 - 1) / 5); g[w] += $2; k[w] += $3; n[w]++ }
      END { for (w in n) printf "%d %f %f\n", w * 5 + 3, g[w] / n[w], k[w] / n[w] }' | sort -n >"$TMP/$algorithm-$rm.dat"
  done
done
plots() { # COLUMNS -> one panel per algorithm
  local algorithm rm sep
  for algorithm in $ALGORITHMS; do
    echo "set title \"$algorithm\""
    printf 'plot '
    sep=""
    for rm in $REWARDS; do
      printf '%s"%s" using %s with linespoints pt 7 ps 0.4 title "%s"' "$sep" "$TMP/$algorithm-$rm.dat" "$1" "$(label "$rm")"
      sep=", "
    done
    echo
  done
}
n_alg=$(echo "$ALGORITHMS" | wc -w)
panel_cols=$((n_alg < 2 ? n_alg : 2))
panel_rows=$(((n_alg + 1) / 2))
gnuplot <<GP
set terminal pngcairo size $((560 * panel_cols)),$((460 * panel_rows)) font "sans,9"
set output "$REPORT_DIR/toy-rlhf-steps.png"
set multiplot layout $panel_rows,$panel_cols
set xlabel "RLHF step (5-step windows)"
set ylabel "gold score of the training samples"
set key below
set grid
$(plots 1:2)
unset multiplot
GP
gnuplot <<GP
set terminal pngcairo size $((560 * panel_cols)),$((460 * panel_rows)) font "sans,9"
set output "$REPORT_DIR/toy-rlhf-kl.png"
set multiplot layout $panel_rows,$panel_cols
set xlabel "KL per token to the SFT policy"
set ylabel "gold score of the training samples"
set key below
set grid
$(plots 3:2)
unset multiplot
GP
