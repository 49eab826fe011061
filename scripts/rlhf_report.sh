#!/usr/bin/env bash
# The report of scripts/rlhf_quickstart.sh: a markdown table of the gold score of policy samples
# before and after RLHF on held-out prompts (per split and per family), the RLHF run's figures
# (from its summary.json and metrics.jsonl), and a PNG (gnuplot) of gold and reward-model reward
# over the RLHF steps. Usage: rlhf_report.sh OUT SECONDS
set -euo pipefail
OUT=$1 SECONDS_TOTAL=$2
RUN=$OUT/runs/rlhf
MD=$OUT/quickstart.md
PNG=$OUT/quickstart.png
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# gold FILE [FAMILY] -> "mean exact n" over every sample (exact: gold score 1)
gold() {
  jq -s -r --arg f "${2:-}" '[.[] | select($f == "" or .family == $f) | .gold[]] |
    if length == 0 then "- - 0" else "\(add / length) \((map(select(. >= 1)) | length) / length) \(length)" end' "$1"
}
fmt() { [ "$1" = "-" ] && printf -- '-' || printf '%.3f' "$1"; }
row() { # LABEL FAMILY SPLIT
  read -r bm be bn <<<"$(gold "$OUT/eval/before-$3-gold.jsonl" "$2")"
  read -r am ae _ <<<"$(gold "$OUT/eval/after-$3-gold.jsonl" "$2")"
  local delta="-"
  [ "$bm" != "-" ] && [ "$am" != "-" ] && delta=$(awk -v a="$am" -v b="$bm" 'BEGIN { printf "%+.3f", a - b }')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$bn" "$(fmt "$bm")" "$(fmt "$am")" "$delta" "$(fmt "$be")" "$(fmt "$ae")"
}

jq -r 'select(has("reward/gold")) | "\(.step) \(.["reward/gold"]) \(.["reward/mean"]) \(.["kl/per_token"])"' \
  "$RUN/metrics.jsonl" | sort -n -k1,1 -u >"$TMP/steps.dat"
steps=$(wc -l <"$TMP/steps.dat")
first_last() { # COLUMN -> mean of the first 5 and of the last 5 steps
  awk -v c="$1" -v n="$steps" '{ v[NR] = $c } END {
    k = n < 5 ? n : 5; a = 0; b = 0
    for (i = 1; i <= k; i++) { a += v[i]; b += v[n - k + i] }
    printf "%.3f -> %.3f", a / k, b / k }' "$TMP/steps.dat"
}
summary() { jq -r "$1" "$RUN/summary.json"; }
# paired SPLIT -> "change standard-error prompts": the mean over prompts of (gold after - gold before),
# each prompt's mean over its samples, and the standard error of that mean. The samples of a
# prompt share their random numbers before and after (the sampling seed is per prompt and sample),
# so the pairs are strongly correlated and the paired error is far below the two means' errors.
paired() {
  jq -n -r --slurpfile b "$OUT/eval/before-$1-gold.jsonl" --slurpfile a "$OUT/eval/after-$1-gold.jsonl" '
    def m: add / length;
    [range(0; $b | length) as $i |
      if $a[$i].prompt != $b[$i].prompt then error("prompt \($i) differs") else ($a[$i].gold | m) - ($b[$i].gold | m) end]
    | length as $n | m as $d | ((map((. - $d) * (. - $d)) | add) / ($n - 1) / $n | sqrt) as $se
    | "\($d) \($se) \($n)"'
}
paired_line() { # SPLIT LABEL
  read -r d se n <<<"$(paired "$1")"
  awk -v d="$d" -v se="$se" -v n="$n" -v l="$2" 'BEGIN { printf "%s %+.4f +- %.4f (%d prompts, %.1f standard errors)", l, d, se, n, (se > 0 ? d / se : 0) }'
}

{
  echo "# Quickstart: RLHF of a tiny policy against a tiny GRAM reward model"
  echo
  echo "Made by \`scripts/quickstart.sh\` ($SECONDS_TOTAL s wall time after the build, on this machine)."
  echo "The SFT policy (builtin:toy) is trained by GRPO against the GRAM reward (stage 1 on unlabeled"
  echo "pairs, stage 2 on labels of the in-distribution families srt, ddp, add, rot, including pairs of"
  echo "the SFT policy's own samples), served by the reward service, with 2 rollout actors, 1 reward"
  echo "replica and 2 learner ranks as separate processes. Gold score: the world's programmatic judge"
  echo "(1 for the exact answer, partial credit otherwise), which neither model sees; mean over"
  echo "$(jq -s '[.[].gold | length] | add' "$OUT/eval/before-id-gold.jsonl") samples per split of held-out prompts (temperature 1.0)."
  echo
  echo "| prompts | samples | gold before RLHF | gold after RLHF | change | exact before | exact after |"
  echo "|---|---|---|---|---|---|---|"
  row "in-distribution families (srt, ddp, add, rot)" "" id
  for f in srt ddp add rot; do row "&nbsp;&nbsp;$f" "$f" id; done
  row "held-out families (rev, inc)" "" ood
  for f in rev inc; do row "&nbsp;&nbsp;$f" "$f" ood; done
  echo
  echo "Change per prompt (after - before, each prompt's mean over its samples), mean and standard error:"
  echo "$(paired_line id "in distribution") ; $(paired_line ood "held-out families")."
  echo
  echo "RLHF run ($RUN): $(summary '.steps') GRPO steps of $(summary '.prompts_per_step') prompts x"
  echo "$(summary '.samples_per_prompt') samples in $(summary '.wall_s | floor') s; on the training prompts, mean over the"
  echo "first and the last 5 steps: gold $(first_last 2), GRAM reward $(first_last 3), KL per token"
  echo "$(first_last 4). Ledger: $(summary '.ledger.prompts_completed') prompts completed, $(summary '.ledger.prompts_re_leased')"
  echo "re-leased, $(summary '.ledger.duplicates_dropped') duplicates dropped, $(summary '.prompts_lost') lost."
  echo
  echo "![gold and GRAM reward over the RLHF steps](quickstart.png)"
} >"$MD"

gnuplot <<GP
set terminal pngcairo size 900,480 font "sans,10"
set output "$PNG"
set title "GRPO of the toy SFT policy against a toy GRAM reward model (training prompts)"
set xlabel "RLHF step"
set ylabel "mean over the step's samples"
set key bottom right
set grid
plot "$TMP/steps.dat" using 1:2 with linespoints pt 7 ps 0.5 title "gold score (world judge)", \
     "$TMP/steps.dat" using 1:3 with linespoints pt 5 ps 0.5 title "GRAM reward P(sample beats greedy reference)"
GP
