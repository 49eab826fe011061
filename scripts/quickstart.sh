#!/usr/bin/env bash
# The main job: install, build, then run online RLHF end to end on the built-in synthetic world
# (scripts/rlhf_quickstart.sh): SFT of the tiny policy and a tiny GRAM reward model (stage 1 on
# unlabeled pairs, stage 2 on labels), then `gramrl rlhf configs/quickstart.yaml` with 2 rollout
# actors, 1 reward-server replica and 2 learner ranks as separate processes, ending with the gold
# score of the policy's samples before and after RLHF on held-out prompts and a PNG of the run
# (runs/quickstart/quickstart.md and .png). Rerunning resumes. The GRAM toy reproduction is
# scripts/reproduce_toy.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh gramrl
echo "== gramrl config check configs/*.yaml"
build/launch/gramrl config check --quiet --no-port-check configs/*.yaml
echo "== RLHF quickstart (scripts/rlhf_quickstart.sh; rerunning resumes finished stages)"
scripts/rlhf_quickstart.sh
