#!/usr/bin/env python3
"""bench/op_bench.cc's operations in PyTorch 2.x (.venv-ref), same shapes, threads and timing
(median of 20 after 3 warm-ups, ms), printed in the same format.

Usage: op_peer.py CONFIG_JSON [--threads 2]
"""
import json
import statistics
import sys
import time

import torch


def median_ms(op):
    for _ in range(3):
        op()
    ms = []
    for _ in range(20):
        t0 = time.perf_counter()
        out = op()
        ms.append((time.perf_counter() - t0) * 1e3)
        assert torch.isfinite(out).all(), "op_peer: a result is not finite"
    return statistics.median(ms)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    threads = int(sys.argv[3]) if len(sys.argv) >= 4 and sys.argv[2] == "--threads" else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with open(sys.argv[1]) as f:
        c = json.load(f)
    h, v, ff = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
    print(f"op_peer: PyTorch {torch.__version__}, {torch.get_num_threads()} threads; hidden {h}, vocab {v}, "
          f"intermediate {ff}")
    with torch.inference_mode():
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        mm = median_ms(lambda: torch.mm(a, b))
        print(f"{'mm 1024^3':<28} {mm:10.3f} ms  ({2 * 1024**3 / mm / 1e6:.1f} GFLOP/s)")
        head, up, down = torch.randn(v, h) * 0.1, torch.randn(2 * ff, h) * 0.1, torch.randn(h, ff) * 0.1
        for rows in (1, 64):
            x = torch.randn(rows, h)
            print(f"{f'head linear B={rows}':<28} {median_ms(lambda: torch.nn.functional.linear(x, head)):10.3f} ms")
            lin = torch.nn.functional.linear
            print(f"{f'mlp linears B={rows}':<28} {median_ms(lambda: lin(lin(x, up)[:, :ff], down)):10.3f} ms")
            logits, temps = torch.randn(rows, v) * 3, torch.ones(rows, 1)

            def sampling():
                assert torch.isfinite(logits).all()
                lp = torch.log_softmax(logits / temps, 1).contiguous()
                p = lp.exp().contiguous()
                return lp.argmax(1).float() + p[:, 0]
            print(f"{f'sampling B={rows}':<28} {median_ms(sampling):10.3f} ms")


if __name__ == "__main__":
    main()
