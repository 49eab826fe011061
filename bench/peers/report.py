#!/usr/bin/env python3
"""Tables of bench/peers/run_peers.sh from its results (standard library only).

Usage: report.py RESULTS_JSONL PROMPT_TOKENS NEW_TOKENS

RESULTS_JSONL holds the peers' JSON lines (gramrl_peer.py, hf_peer.py, llama_cpp_peer.py).
Generation, for each peer and batch B, medians over the repeats:
  T_N   seconds to generate NEW_TOKENS tokens per row (prefill + decode, model already loaded)
        (and the same from the best runs: on a shared machine noise only adds time)
  T_1   seconds to generate 1 token per row (the prefill and one argmax)
  generated tok/s = B * NEW_TOKENS / T_N; prefill tok/s = B * PROMPT_TOKENS / T_1;
  decode tok/s = B * (NEW_TOKENS - 1) / (T_N - T_1)
  ratio = gramrl time / peer time for the same work (above 1: gramrl is slower)
Equal work: every row must have NEW_TOKENS tokens (no row stopped early); the tokens are compared
with gramrl's, row by row.
"""
import json
import statistics
import sys



def label(r):
    if r["peer"] != "llama.cpp":
        return r["peer"]
    weights = "f16" if "f16" in r["gguf"].rsplit("/", 1)[-1] else "f32"
    return f"llama.cpp {weights} weights, {r['kv']} KV"


def compare(a, b):
    """(rows equal, rows, first differing position over all rows or None)"""
    same, first = 0, None
    for x, y in zip(a, b):
        if x == y:
            same += 1
        else:
            k = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            first = k if first is None else min(first, k)
    return same, len(a), first


def generation(rows, prompt, new, pick):
    peers = list(dict.fromkeys(label(r) for r in rows))
    batches = sorted({r["batch"] for r in rows})
    out = ["| batch | peer | runs | T_1 s | prefill tok/s | T_N s | generated tok/s | decode tok/s | "
           "ratio T_1 | ratio T_N | ratio decode |", "|" + " --- |" * 3 + " ---: |" * 8]
    checks = []
    for b in batches:
        stats = {}
        for p in peers:
            t1 = [r["seconds"] for r in rows if label(r) == p and r["batch"] == b and r["new"] == 1]
            tn = [r["seconds"] for r in rows if label(r) == p and r["batch"] == b and r["new"] == new]
            if not t1 or not tn:
                continue
            m1, mn = pick(t1), pick(tn)
            stats[p] = (m1, mn, mn - m1, min(len(t1), len(tn)))
        g = stats.get("gramrl")
        for p, (m1, mn, md, runs) in stats.items():
            ratios = ["-"] * 3 if p == "gramrl" or not g else [f"{g[0] / m1:.2f}", f"{g[1] / mn:.2f}",
                                                             f"{g[2] / md:.2f}"]
            out.append(f"| {b} | {p} | {runs} | {m1:.3f} | {b * prompt / m1:,.0f} | {mn:.3f} | {b * new / mn:,.1f} | "
                       f"{b * (new - 1) / md:,.1f} | " + " | ".join(ratios) + " |")
        # Equal work and equal outputs, from the full-length runs.
        full = {label(r): r for r in rows if r["batch"] == b and r["new"] == new}
        for p, r in full.items():
            short = sum(len(t) != new for t in r["tokens"])
            checks.append(f"batch {b}, {p}: {len(r['tokens'])} rows, {short} shorter than {new} tokens")
            if p != "gramrl" and "gramrl" in full:
                same, n, first = compare(full["gramrl"]["tokens"], r["tokens"])
                where = "" if first is None else f" (first difference at generated token {first})"
                checks.append(f"batch {b}, {p} vs gramrl: {same}/{n} rows token for token identical{where}")
    return out, checks


def training(rows):
    peer = [r for r in rows if r["peer"] == "pytorch"]
    gram = [r for r in rows if r["peer"] == "gramrl"]
    out = ["| B x T | peer | runs | step s (median of runs) | tokens/s | loss fell in every run | "
           "matmul GFLOP/s (median) | ratio |", "|" + " --- |" * 3 + " ---: |" * 5]
    for shape in sorted({r["shape"] for r in peer} | {r["shape"] for r in gram}):
        b, t = (int(x) for x in shape.split("x"))
        cells = {}
        for name, rs in (("gramrl train_bench", [r for r in gram if r["shape"] == shape]),
                         ("PyTorch", [r for r in peer if r["shape"] == shape])):
            if rs:
                rates = [r["matmul_gflops"] for r in rs]
                cells[name] = (statistics.median(r["seconds"] for r in rs), len(rs),
                               all(r["loss_fell"] for r in rs), statistics.median(rates) if rates else float("nan"))
        g = cells.get("gramrl train_bench")
        for name, (s, n, fell, mm) in cells.items():
            ratio = f"{g[0] / s:.2f}" if g and name != "gramrl train_bench" else "-"
            out.append(f"| {shape} | {name} | {n} | {s:.3f} | {b * t / s:,.0f} | {'yes' if fell else 'NO'} | "
                       f"{mm:.1f} | {ratio} |")
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    prompt, new = int(sys.argv[2]), int(sys.argv[3])
    gen_rows = [r for r in rows if r["what"] == "generate"]
    gen, checks = generation(gen_rows, prompt, new, statistics.median)
    print(f"Generation: greedy, {prompt}-token prompts, T_N: {new} new tokens per row; ratio = gramrl time / "
          f"peer time (above 1: gramrl slower). Medians of the runs:\n")
    print("\n".join(gen))
    print("\nThe same, best (shortest) run of each (the least disturbed by other work on the machine):\n")
    print("\n".join(generation(gen_rows, prompt, new, min)[0]))
    print("\nEqual work:\n" + "\n".join(f"- {c}" for c in checks))
    print("\nTraining step: forward + backward + AdamW; ratio = gramrl step / peer step\n")
    print("\n".join(training([r for r in rows if r["what"] == "train"])))


if __name__ == "__main__":
    main()
