#!/usr/bin/env bash
# serve_and_score.sh GRAMRL CONFIG ITEMS OUT [section.key=value ...]
# Starts `gramrl reward serve CONFIG overrides` (port 0), waits for its "serving reward on"
# line (deadline 120 s; fails at once if the server exits), scores ITEMS with `gramrl reward score`
# against that endpoint into OUT, then stops the server with SIGTERM and requires a clean exit.
set -euo pipefail
gramrl=$1 config=$2 items=$3 out=$4
shift 4
log=$(mktemp)
"$gramrl" reward serve "$config" "$@" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
deadline=$((SECONDS + 120))
until grep -q "serving reward on " "$log"; do
  if ! kill -0 "$pid" 2>/dev/null; then echo "the reward server exited:"; cat "$log"; exit 1; fi
  if [ "$SECONDS" -ge "$deadline" ]; then echo "no 'serving reward on' line in 120 s:"; cat "$log"; exit 1; fi
  sleep 0.05
done
endpoint=$(sed -n 's/^serving reward on \([^ ]*\).*/\1/p' "$log" | head -1)
"$gramrl" reward score "$config" "$@" --data "$items" --out "$out" --endpoint "$endpoint"
kill -TERM "$pid"
wait "$pid"
