#!/usr/bin/env bash
# The main job: install, build, then reproduce GRAM's central result at toy scale on this
# machine's CPU cores (scripts/reproduce_toy.sh: stage-1 pre-training on unlabeled pairs, stage-2
# fine-tuning, the generative-only and Bradley-Terry baselines and two controls, in- and
# out-of-distribution accuracy, task adaptation), printing progress as it goes and ending with
# the report table (runs/toy/toy-reproduction.md and .png). About 23 minutes on 2 cores.
# Until the RLHF pipeline lands, this is the experiment gramrl runs end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh gramrl
echo "== gramrl config check configs/*.yaml"
build/launch/gramrl config check --quiet configs/*.yaml
echo "== GRAM toy reproduction (scripts/reproduce_toy.sh; rerunning resumes finished runs)"
scripts/reproduce_toy.sh
