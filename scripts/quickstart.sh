#!/usr/bin/env bash
# The main job: install, build, then run what gramrl can do end to end today:
# validate every shipped config, and a transport self-test between two processes
# (rendezvous through a TCPStore, framed Cap'n Proto over ZeroMQ on tcp and ipc).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh gramrl
echo "== gramrl config check configs/*.yaml"
build/launch/gramrl config check --quiet configs/*.yaml
echo "== gramrl selftest transport"
build/launch/gramrl selftest transport
