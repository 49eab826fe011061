#!/usr/bin/env python3
"""The transformers / plain PyTorch peer of bench/peers/run_peers.sh. One measurement per call,
printed as one JSON line (run_peers.sh interleaves the peers' calls, report.py reads the lines).

  hf_peer.py generate MODEL_DIR PROMPTS_JSON --batch B --new N [--threads 2]
      model.generate(do_sample=False) on the first B prompts of PROMPTS_JSON (equal lengths, so no
      padding), after one untimed warm-up call; prints the seconds of the timed call and every
      row's new token ids (stopping at the config's eos ids, as gramrl does).
  hf_peer.py train MODEL_DIR --shape BxT [--steps 5] [--threads 2]
      What train_bench times, in plain PyTorch: forward + backward + torch.optim.AdamW (lr 1e-3,
      weight decay 0.01, as train_bench) on B x T random ids below 256, next-token cross-entropy
      over every token (the model's own loss); one warm-up step, then the median of STEPS steps.

Both print the torch matmul rate (1024^3 mm, best of 3), as the gramrl benches do, so that the
BLAS of the two builds can be compared.
"""
import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402


def matmul_gflops():
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    best = 1e30
    for _ in range(3):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * 1024**3 / best / 1e9


def load(model_dir):
    return transformers.LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)


def cut_at_eos(row, eos):
    """A finished row is padded with eos[0]; keep its tokens up to and with the first eos."""
    for i, t in enumerate(row):
        if t in eos:
            return row[:i + 1]
    return row


def generate(args):
    with open(args.prompts) as f:
        ids = torch.tensor(json.load(f)["ids"][:args.batch])
    assert ids.shape[0] == args.batch, f"only {ids.shape[0]} prompts"
    model = load(args.model).eval()
    eos = model.generation_config.eos_token_id
    kw = dict(do_sample=False, eos_token_id=eos, pad_token_id=eos[0])
    with torch.inference_mode():
        model.generate(ids[:1], attention_mask=torch.ones_like(ids[:1]), max_new_tokens=2, **kw)  # warm-up
        t0 = time.perf_counter()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new, **kw)
        seconds = time.perf_counter() - t0
    rows = [cut_at_eos(row, eos) for row in out[:, ids.shape[1]:].tolist()]
    return {"seconds": seconds, "tokens": rows}


def train(args):
    b, t = (int(x) for x in args.shape.split("x"))
    model = load(args.model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (b, t), generator=g)

    def step():
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    first = step()
    times, last = [], first
    for _ in range(args.steps):
        t0 = time.perf_counter()
        last = step()
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "steps": times, "loss_first": first, "loss_last": last,
            "loss_fell": last < first, "tokens_per_step": b * t}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["generate", "train"])
    ap.add_argument("model")
    ap.add_argument("prompts", nargs="?")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--shape", default="4x128")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    row = {"peer": "transformers" if args.what == "generate" else "pytorch", "what": args.what,
           "threads": torch.get_num_threads(), "torch": torch.__version__, "transformers": transformers.__version__,
           "matmul_gflops": round(matmul_gflops(), 1)}
    if args.what == "generate":
        row.update(batch=args.batch, new=args.new, **generate(args))
    else:
        row.update(shape=args.shape, **train(args))
    print(json.dumps(row))


if __name__ == "__main__":
    main()
