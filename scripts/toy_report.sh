#!/usr/bin/env bash
# Turns the eval JSON files of scripts/reproduce_toy.sh into docs-style markdown tables and two PNG
# plots (gnuplot): accuracy by method and task adaptation; best-of-n gold-reward curves.
# Usage: toy_report.sh OUT REPORT_DIR "SEEDS" LABELS "ADAPT_LABELS" SCHEDULE SECONDS
set -euo pipefail
OUT=$1 REPORT=$2 SEEDS=$3 LABELS=$4 ADAPT=$5 SCHEDULE=$6 SECONDS_TOTAL=$7
E=$OUT/eval
MD=$REPORT/toy-reproduction.md
PNG=$REPORT/toy-reproduction.png
BON_PNG=$REPORT/toy-reproduction-best-of-n.png
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# acc NAME SPLIT SEED VIEW GROUP -> accuracy (empty if the file or group is missing)
acc() {
  local f="$E/s$3-$1-$2.json"
  [ -f "$f" ] || { echo ""; return; }
  jq -r --arg g "$5" --arg v "$4" '(.groups[] | select(.name == $g) | .accuracy[$v]) // empty' "$f"
}
# bon NAME SPLIT SEED N FIELD -> a best-of-n figure (selected, oracle, random, ...), empty if missing
bon() {
  local f="$E/s$3-$1-policy-$2.json"
  [ -f "$f" ] || { echo ""; return; }
  jq -r --argjson n "$4" --arg k "$5" '(.best_of_n.points[] | select(.n == $n) | .[$k]) // empty' "$f"
}
# policy-sampled pair accuracy NAME SPLIT SEED VIEW
pacc() {
  local f="$E/s$3-$1-policy-$2.json"
  [ -f "$f" ] || { echo ""; return; }
  jq -r --arg v "$4" '(.groups[] | select(.name == "all") | .accuracy[$v]) // empty' "$f"
}
mean() { awk '{ s += $1; n += 1 } END { if (n) printf "%.3f", s / n; else printf "-" }'; }
fmt() { [ -n "$1" ] && printf '%.3f' "$1" || printf -- '-'; }
view_of() { case $1 in gram | gen-only | adapt-*) echo debiased ;; *) echo score ;; esac; }

methods=(gram gen-only bt bt-s1 likelihood)
declare -A label=(
  [gram]="GRAM (stage 1 + stage 2)" [gen-only]="generative, stage 2 only" [bt]="Bradley-Terry"
  [bt-s1]="Bradley-Terry from stage 1 (control)" [likelihood]="likelihood judge, no labels (control)")

{
  echo "# GRAM toy-scale reproduction"
  echo
  echo "Made by \`scripts/reproduce_toy.sh\` ($SCHEDULE; $LABELS labelled pairs of the 4 in-distribution"
  echo "families; seeds $SEEDS; $SECONDS_TOTAL s wall time on this machine). Pairwise accuracy on fixed noise-free"
  echo "world test pairs: ID = srt, ddp, add, rot (800 pairs), OOD = the held-out families rev, inc (400 pairs,"
  echo "standard error about 0.025 per seed). Generative judges are debiased (both answer orders)."
  echo
  printf '| method | ID per seed | mean ID | OOD per seed | mean OOD | OOD, pair holds the correct answer | OOD, two wrong answers |\n'
  printf '|---|---|---|---|---|---|---|\n'
  for m in "${methods[@]}"; do
    v=$(view_of "$m")
    ids="" oods="" withs="" withouts=""
    for s in $SEEDS; do
      ids+="$(fmt "$(acc "$m" id "$s" "$v" all)") / "
      oods+="$(fmt "$(acc "$m" ood "$s" "$v" all)") / "
      acc "$m" id "$s" "$v" all >>"$TMP/$m.id"
      acc "$m" ood "$s" "$v" all >>"$TMP/$m.ood"
      acc "$m" ood "$s" "$v" "contains_correct: yes" >>"$TMP/$m.with"
      acc "$m" ood "$s" "$v" "contains_correct: no" >>"$TMP/$m.without"
    done
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${label[$m]}" "${ids% / }" "$(mean <"$TMP/$m.id")" "${oods% / }" \
      "$(mean <"$TMP/$m.ood")" "$(mean <"$TMP/$m.with")" "$(mean <"$TMP/$m.without")"
  done
  echo
  echo "Per family (mean over seeds; rev and inc are out of distribution):"
  echo
  printf '| method | srt | ddp | add | rot | **rev** | **inc** |\n|---|---|---|---|---|---|---|\n'
  for m in "${methods[@]}"; do
    v=$(view_of "$m")
    row="| ${label[$m]} |"
    for fam in srt ddp add rot rev inc; do
      split=id
      [ "$fam" = rev ] || [ "$fam" = inc ] && split=ood
      val=$(for s in $SEEDS; do acc "$m" "$split" "$s" "$v" "category: $fam"; done | mean)
      row+=" $val |"
    done
    echo "$row"
  done
  echo
  echo "Position bias of the GRAM judge (OOD, mean over seeds): debiased $(mean <"$TMP/gram.ood"), chosen always in slot A"
  echo "$(for s in $SEEDS; do acc gram ood "$s" chosen_in_a all; done | mean), chosen always in slot B $(for s in $SEEDS; do acc gram ood "$s" chosen_in_b all; done | mean)."
  echo
  echo "Task adaptation: accuracy on the held-out families (OOD test pairs) after stage-2 fine-tuning on N labelled"
  echo "pairs of those families, starting from the GRAM model above (foundation) or from random init (scratch)."
  echo "N = 0 is the foundation model as it is (zero-shot)."
  echo
  printf '| labelled pairs | foundation GRAM | from scratch |\n|---|---|---|\n'
  printf '0 %s -\n' "$(mean <"$TMP/gram.ood")" >"$TMP/adapt.dat"
  echo "| 0 | $(mean <"$TMP/gram.ood") | - |"
  for n in $ADAPT; do
    f=$(for s in $SEEDS; do acc "adapt-gram-$n" ood "$s" debiased all; done | mean)
    c=$(for s in $SEEDS; do acc "adapt-scratch-$n" ood "$s" debiased all; done | mean)
    echo "| $n | $f | $c |"
    echo "$n $f $c" >>"$TMP/adapt.dat"
  done
  first=${SEEDS%% *}
  if [ -f "$E/s$first-gram-policy-id.json" ]; then
    echo
    echo "## On what a policy writes"
    echo
    echo "A tiny policy (builtin:toy) supervised fine-tuned on the world's noisy demonstrations (70% correct) samples"
    echo "candidates for fixed test prompts of the in-distribution (ID) and held-out (OOD) families, graded by the gold"
    echo "judge. Policy-sampled pairs: two samples of one prompt with different gold scores (chosen = higher)."
    echo
    for split in id ood; do
      jq -r '.groups[] | select(.name == "all") | .pairs' "$E/s$first-gram-policy-$split.json" >"$TMP/pairs.$split"
      jq -r '.best_of_n.prompts' "$E/s$first-gram-policy-$split.json" >"$TMP/prompts.$split"
    done
    printf '| method | policy pairs ID (%s) | policy pairs OOD (%s) |\n|---|---|---|\n' "$(cat "$TMP/pairs.id")" \
      "$(cat "$TMP/pairs.ood")"
    for m in "${methods[@]}"; do
      v=$(view_of "$m")
      printf '| %s | %s | %s |\n' "${label[$m]}" "$(for s in $SEEDS; do pacc "$m" id "$s" "$v"; done | mean)" \
        "$(for s in $SEEDS; do pacc "$m" ood "$s" "$v"; done | mean)"
    done
    ns=$(jq -r '.best_of_n.points[].n' "$E/s$first-gram-policy-id.json" | tr '\n' ' ')
    for split in id ood; do
      echo
      echo "Best-of-n, $(echo "$split" | tr a-z A-Z) prompts ($(cat "$TMP/prompts.$split")): mean gold score of the selected candidate among"
      echo "the first n samples (GRAM judges: knockout bracket, debiased; scalar models: argmax), mean over seeds;"
      echo "oracle = best gold among the n, random = mean gold of the n. In brackets: fraction exactly correct."
      echo
      printf '| n | oracle | random |'
      for m in "${methods[@]}"; do printf ' %s |' "${label[$m]}"; done
      printf '\n|---|---|---|'
      for m in "${methods[@]}"; do printf -- '---|'; done
      printf '\n'
      for n in $ns; do
        o=$(bon gram "$split" "$first" "$n" oracle)
        r=$(bon gram "$split" "$first" "$n" random)
        oe=$(bon gram "$split" "$first" "$n" oracle_exact)
        re=$(bon gram "$split" "$first" "$n" random_exact)
        row="| $n | $(fmt "$o") ($(fmt "$oe")) | $(fmt "$r") ($(fmt "$re")) |"
        line="$n ${o:--} ${r:--}"
        for m in "${methods[@]}"; do
          g=$(for s in $SEEDS; do bon "$m" "$split" "$s" "$n" selected; done | mean)
          x=$(for s in $SEEDS; do bon "$m" "$split" "$s" "$n" selected_exact; done | mean)
          row+=" $g ($x) |"
          line+=" $g"
        done
        echo "$row"
        echo "$line" >>"$TMP/bon.$split.dat"
      done
    done
    echo
    echo "![best-of-n gold reward](toy-reproduction-best-of-n.png)"
  fi
} >"$MD"

# The plot: ID and OOD accuracy per method, and the adaptation curve.
i=0
for m in "${methods[@]}"; do
  echo "$i \"${label[$m]}\" $(mean <"$TMP/$m.id") $(mean <"$TMP/$m.ood")" >>"$TMP/methods.dat"
  i=$((i + 1))
done
gnuplot <<GP
set terminal pngcairo size 1300,520 font "sans,10"
set output "$PNG"
set multiplot layout 1,2 title "GRAM toy reproduction (seeds $SEEDS, $LABELS ID labels)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0.4:1.0]
set ylabel "pairwise accuracy"
set xtics rotate by -20 scale 0 font ",8"
set key top right
set grid ytics
plot "$TMP/methods.dat" using 3:xtic(2) title "in-distribution", "" using 4 title "held-out families (OOD)"
unset style
set style data linespoints
set xlabel "labelled pairs of the held-out families"
set xtics rotate by 0 font ",10" autofreq
set title "task adaptation"
plot "$TMP/adapt.dat" using 1:2 with linespoints lw 2 pt 7 title "from foundation GRAM", \
     "" using 1:(\$3) with linespoints lw 2 pt 5 title "from scratch"
unset multiplot
GP

# The best-of-n plot: mean gold score of the selection against n, per split.
if [ -f "$TMP/bon.id.dat" ]; then
  gnuplot <<GP
set terminal pngcairo size 1300,520 font "sans,10"
set output "$BON_PNG"
set multiplot layout 1,2 title "best-of-n among policy samples: mean gold score of the selection (seeds $SEEDS)"
set datafile missing "-"
set logscale x 2
set xlabel "n (candidates sampled from the SFT policy)"
set ylabel "mean gold score"
set key below font ",9" maxrows 3
set grid
do for [split in "id ood"] {
  set title (split eq "id" ? "in-distribution prompts" : "held-out families (OOD)")
  plot "$TMP/bon.".split.".dat" using 1:2 with linespoints lw 2 dt 2 lc rgb "black" title "oracle", \
       "" using 1:3 with linespoints lw 2 dt 3 lc rgb "gray40" title "random", \
       "" using 1:4 with linespoints lw 2 pt 7 title "${label[gram]}", \
       "" using 1:5 with linespoints lw 2 pt 5 title "${label[gen-only]}", \
       "" using 1:6 with linespoints lw 2 pt 9 title "${label[bt]}", \
       "" using 1:7 with linespoints lw 2 pt 11 title "${label[bt-s1]}", \
       "" using 1:8 with linespoints lw 2 pt 13 title "${label[likelihood]}"
}
unset multiplot
GP
fi
