#!/usr/bin/env python3
"""gramrl's side of bench/peers/run_peers.sh: runs gramrl once and prints the same JSON line as the
other peers (standard library only, any python3).

  gramrl_peer.py generate GRAMRL MODEL_DIR PROMPTS_JSONL --batch B --new N
  gramrl_peer.py train TRAIN_BENCH MODEL_DIR --shape BxT [--steps 5] [--threads 2]
      build/bench/train_bench on MODEL_DIR/config.json's shape (random weights); its row, as JSON.

Greedy (--temperature 0), the first B prompts of PROMPTS_JSONL in B KV-cache slots (--max-batch
B), --jsonl for the tokens. The time is the one `gramrl generate` logs for its generation call
(prefill and decode, after the model and tokenizer are loaded and the KV cache allocated):
"N completions, M tokens in S s (R tokens/s)". S has 2 decimals and R none, so the seconds are
taken from whichever of S and M / R is the more precise. `gramrl generate` runs one LibTorch
thread per core (launch/generate_command.cc): run_peers.sh gives the peers as many.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile


TRAIN_ROW = re.compile(r"^\S+\s+(\d+)x(\d+)\s+\|\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+\|\s+(\S+)\s+(\S+)", re.M)


def train(args):
    cmd = [args.binary, "--presets", os.path.join(args.model, "config.json"), "--shapes", args.shape,
           "--steps", str(args.steps), "--threads", str(args.threads)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    row, rate = TRAIN_ROW.search(run.stdout), re.search(r"matmul rate ([\d.]+) GFLOP/s", run.stdout)
    if not row or not rate:
        raise SystemExit(f"gramrl_peer: {' '.join(cmd)} failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    first, last = float(row.group(6)), float(row.group(7))
    print(json.dumps({"peer": "gramrl", "what": "train", "threads": args.threads, "shape": args.shape,
                      "matmul_gflops": float(rate.group(1)), "seconds": float(row.group(3)), "loss_first": first,
                      "loss_last": last, "loss_fell": last < first, "train_bench": row.group(0)}))


def generate(args):
    with open(args.prompts) as f:
        lines = [line for line in f if line.strip()][:args.batch]
    assert len(lines) == args.batch, f"only {len(lines)} prompts"
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.writelines(lines)
    try:
        cmd = [args.binary, "generate", "--model", args.model, "--prompts", f.name, "--temperature", "0",
               "--max-new-tokens", str(args.new), "--max-batch", str(args.batch), "--jsonl"]
        run = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if run.returncode != 0:
        raise SystemExit(f"gramrl_peer: {' '.join(cmd)} failed ({run.returncode}):\n{run.stderr}")
    m = re.search(r"(\d+) completions, (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\)", run.stderr)
    assert m, f"no timing line in gramrl's log:\n{run.stderr}"
    tokens, secs, rate = int(m.group(2)), float(m.group(3)), float(m.group(4))
    seconds = secs if 0.005 / max(secs, 1e-9) <= 0.5 / max(rate, 1e-9) else tokens / rate
    rows = sorted((json.loads(line) for line in run.stdout.splitlines() if line.strip()),
                  key=lambda j: j["prompt_index"])
    print(json.dumps({"peer": "gramrl", "what": "generate", "batch": args.batch, "new": args.new,
                      "seconds": seconds, "logged": m.group(0), "threads": os.cpu_count(),
                      "tokens": [r["tokens"] for r in rows], "finish": [r["finish_reason"] for r in rows]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["generate", "train"])
    ap.add_argument("binary")
    ap.add_argument("model")
    ap.add_argument("prompts", nargs="?")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--shape", default="4x128")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    generate(args) if args.what == "generate" else train(args)


if __name__ == "__main__":
    main()
