#!/usr/bin/env bash
# Fuzzes the decoders of untrusted bytes for a bounded time (the CI step after ctest):
# tests/fuzz/reward_decoder_fuzz (the reward server's request decoder and the client's reply
# reader), tests/fuzz/transport_decoder_fuzz (transport::decodeFrames on every channel) and
# tests/fuzz/config_yaml_fuzz (the YAML config reader, seeded with configs/).
# Builds them with clang-14, libFuzzer, ASan and UBSan in build-fuzz (torch is found but no torch
# target is built), seeds them with valid messages written by fuzz_corpus, and runs them.
#
# Usage: scripts/fuzz.sh [SECONDS]   total fuzzing time, default 60 (1/2 reward, 1/4 transport,
#                                    1/4 config)
# Env:   FUZZ_BUILD_DIR (build-fuzz), FUZZ_JOBS (build parallelism, nproc), CXX_FUZZ (clang++-14),
#        FUZZ_FLAGS (extra libFuzzer flags, e.g. "-jobs=4" or "-only_ascii=1")
# Exit:  0 when nothing was found; non-zero on a crash, a sanitizer report or a broken
#        promise, after printing the reproducer's path and the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 2 ]] || { echo "fuzz: SECONDS must be an integer >= 2, got '$seconds'" >&2; exit 2; }
build="${FUZZ_BUILD_DIR:-build-fuzz}"
cxx="${CXX_FUZZ:-clang++-14}"
cc="${cxx/clang++/clang}"
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (scripts/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2; exit 2; }

if [ ! -f "$build/build.ninja" ] || ! grep -q '^GRAMRL_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
    -DGRAMRL_FUZZ=ON -DGRAMRL_BUILD_BENCHMARKS=OFF -DGRAMRL_TORCH_PCH=OFF \
    "-DGRAMRL_SANITIZE=address;undefined;fuzzer-no-link"
fi
cmake --build "$build" -j "${FUZZ_JOBS:-$(nproc)}" --target reward_decoder_fuzz transport_decoder_fuzz \
  config_yaml_fuzz fuzz_corpus

work="$build/fuzz"
rm -rf "$work/seeds"
"$build/tests/fuzz/fuzz_corpus" "$work/seeds"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

status=0
run() {  # run TARGET SECONDS [SEEDS_DIR]
  local target="$1" t="$2" seeds="${3:-$work/seeds}"
  local corpus="$work/corpus/$target" artifacts="$work/artifacts/$target/" log="$work/$target.log"
  mkdir -p "$corpus" "$artifacts"
  echo "fuzz: $target for ${t}s (corpus $corpus, log $log)"
  local rc=0
  "$build/tests/fuzz/$target" "$corpus" "$seeds" \
    -max_total_time="$t" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 ${FUZZ_FLAGS:-} >"$log" 2>&1 || rc=$?
  grep -E '^#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' "$log" || true
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "fuzz: $target FAILED (exit $rc); the end of $log:" >&2
    tail -n 60 "$log" >&2
    local repro
    repro="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    if [ -n "$repro" ]; then
      echo "fuzz: reproducer: $repro" >&2
      echo "fuzz: replay with: $build/tests/fuzz/$target $repro" >&2
    fi
  fi
}
run reward_decoder_fuzz $((seconds - 2 * (seconds / 4)))
run transport_decoder_fuzz $((seconds / 4))
# Bounded memory and time per input: -rss_limit_mb and -timeout above; the YAML guard must keep
# every input far below them (NOTE [YAML document limits]).
run config_yaml_fuzz $((seconds / 4)) configs
exit "$status"
