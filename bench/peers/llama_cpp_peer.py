#!/usr/bin/env python3
"""The llama.cpp peer of bench/peers/run_peers.sh (llama-cpp-python's bindings of llama.h). One
measurement per call, printed as one JSON line.

  llama_cpp_peer.py MODEL_GGUF PROMPTS_JSON --batch B --new N [--threads 2] [--kv f32|f16]

Greedy decoding of the first B prompts of PROMPTS_JSON, B sequences at once, the way llama.cpp's
own batched example does it: one llama_decode of all B x P prompt tokens (logits only at each
row's last token), then one llama_decode of B tokens per step, argmax of the returned logits in
numpy. Every row generates exactly N tokens (no stop tokens: llama.cpp does not stop unless told,
and gramrl and transformers are checked to run to N). Timed: the prefill and the decode steps,
after an untimed warm-up call of 2 tokens on one row and a cleared KV cache. The KV cache is f32
by default, the precision of gramrl's (llama.cpp's default is f16: --kv f16).
"""
import argparse
import ctypes
import json
import time

import llama_cpp
import numpy as np

GGML_TYPE = {"f32": 0, "f16": 1}


class Context:
    def __init__(self, path, seqs, cells_per_seq, threads, kv):
        llama_cpp.llama_backend_init()
        mparams = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(path.encode(), mparams)
        assert self.model, f"cannot load {path}"
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = seqs * cells_per_seq
        cparams.n_batch = cparams.n_ctx
        cparams.n_seq_max = seqs
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.type_k = cparams.type_v = GGML_TYPE[kv]
        self.ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        assert self.ctx, "cannot make a llama.cpp context"
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self.model))
        self.batch = llama_cpp.llama_batch_init(cparams.n_ctx, 0, seqs)

    def clear(self):
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)

    def decode(self, rows, start):
        """rows[s]: tokens of sequence s at positions start[s]...; returns the argmax of the logits
        at each row's last token."""
        b, n = self.batch, 0
        for s, toks in enumerate(rows):
            for j, t in enumerate(toks):
                b.token[n] = t
                b.pos[n] = start[s] + j
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = s
                b.logits[n] = j == len(toks) - 1
                n += 1
        b.n_tokens = n
        rc = llama_cpp.llama_decode(self.ctx, b)
        assert rc == 0, f"llama_decode returned {rc}"
        ptr = llama_cpp.llama_get_logits(self.ctx)
        logits = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                       shape=(len(rows), self.n_vocab))
        return logits.argmax(axis=1).tolist()


def greedy(ctx, prompts, new):
    ctx.clear()
    t0 = time.perf_counter()
    nxt = ctx.decode(prompts, [0] * len(prompts))
    prefill = time.perf_counter() - t0
    out = [[t] for t in nxt]
    for step in range(1, new):
        nxt = ctx.decode([[t] for t in nxt], [len(p) + step - 1 for p in prompts])
        for row, t in zip(out, nxt):
            row.append(t)
    return time.perf_counter() - t0, prefill, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gguf")
    ap.add_argument("prompts")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kv", choices=sorted(GGML_TYPE), default="f32")
    args = ap.parse_args()
    with open(args.prompts) as f:
        prompts = json.load(f)["ids"][:args.batch]
    assert len(prompts) == args.batch, f"only {len(prompts)} prompts"
    cells = -(-(max(len(p) for p in prompts) + args.new) // 256) * 256
    ctx = Context(args.gguf, args.batch, cells, args.threads, args.kv)
    greedy(ctx, prompts[:1], 2)  # warm-up
    seconds, prefill, tokens = greedy(ctx, prompts, args.new)
    print(json.dumps({"peer": "llama.cpp", "what": "generate", "gguf": args.gguf, "kv": args.kv,
                      "threads": args.threads, "llama_cpp_python": llama_cpp.__version__, "batch": args.batch,
                      "new": args.new, "seconds": seconds, "prefill_seconds": prefill, "tokens": tokens}))


if __name__ == "__main__":
    main()
