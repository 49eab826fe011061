#!/usr/bin/env python3
"""Qwen3-0.6B's shapes, written as transformers writes them, and what transformers computes on it.

Usage: make_real_qwen3.py OUT_DIR

A random-weight Qwen3ForCausalLM made from Qwen3-0.6B's published config.json
(tests/data/checkpoint/qwen3_config.json: 28 layers, hidden 1024, 16 query and 8 key/value heads
of 128, vocabulary 151,936, tied embeddings; 596,049,920 parameters), in bfloat16, saved with
save_pretrained(max_shard_size="500MB"): three shards and model.safetensors.index.json, 1.19 GB.
The real Qwen3 tokenizer files go next to it, as on the Hub. Writes
  OUT_DIR/model/                    the checkpoint (config.json, shards, index, tokenizer files)
  OUT_DIR/reference.safetensors
      prompt_ids int64 [T]          apply_chat_template(PROMPT, add_generation_prompt=True,
                                    enable_thinking=False)
      generated int64 [N]           generate(do_sample=False, max_new_tokens=N) from prompt_ids
      logits float32 [T + N - 1, V] the fp32 forward (weights upcast from the bf16 checkpoint)
                                    over prompt_ids + generated[:-1]
  OUT_DIR/reference.json            {"prompt", "max_new_tokens", "eos_token_ids", "min_top2_gap"}
tests/integration/real_checkpoint_test.cc (RealCheckpoint.TransformersSavedQwen3*) compares gramrl
against these. Runs offline: nothing is downloaded. About 1.2 GB on disk.
"""
import gzip
import json
import os
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PROMPT = "Give me a short introduction to large language models. Réponds aussi en une phrase 🙂"
MAX_NEW_TOKENS = 8
SEED = 0


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    model_dir = os.path.join(out, "model")
    os.makedirs(model_dir)
    torch.set_num_threads(2)
    start = time.time()

    config = transformers.AutoConfig.from_pretrained(os.path.join(REPO, "tests", "data", "checkpoint", "qwen3_config.json"))
    config._attn_implementation = "eager"
    # transformers' own initialisation of 596 M bf16 parameters takes minutes on 2 cores; fill them
    # directly: N(0, 0.02) like initializer_range, norms 1 + N(0, 0.2) so that each one matters.
    with transformers.modeling_utils.no_init_weights():
        model = transformers.Qwen3ForCausalLM._from_config(config, torch_dtype=torch.bfloat16).eval()
    model.tie_weights()  # tie_word_embeddings: lm_head is embed_tokens
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.2 * noise if "norm" in name else 0.02 * noise)
    params = sum(p.numel() for p in model.parameters())
    assert params == 596049920, params
    model.save_pretrained(model_dir, max_shard_size="500MB")
    shards = sorted(f for f in os.listdir(model_dir) if f.endswith(".safetensors"))
    assert len(shards) > 1 and os.path.exists(os.path.join(model_dir, "model.safetensors.index.json")), shards
    src = os.path.join(REPO, "tests", "data", "tokenizers", "qwen3")
    with gzip.open(os.path.join(src, "tokenizer.json.gz"), "rb") as f, \
            open(os.path.join(model_dir, "tokenizer.json"), "wb") as o:
        shutil.copyfileobj(f, o)
    shutil.copy(os.path.join(src, "tokenizer_config.json"), model_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    saved_s = time.time() - start

    prompt_ids = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                               enable_thinking=False, tokenize=True)
    model = model.float()  # exact: every bf16 value is a float32 value
    eos = [151645, 151643]  # generation_config.json's eos_token_id
    with torch.no_grad():
        g = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                           max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=eos, pad_token_id=151643,
                           output_scores=True, return_dict_in_generate=True)
    generated = g.sequences[0, len(prompt_ids):].tolist()
    gaps = []
    for s in g.scores:  # greedy is only reproducible where the top two logits differ
        top2 = s[0].topk(2).values
        gaps.append(float(top2[0] - top2[1]))
    assert min(gaps) > 1e-3, f"near tie in greedy decoding ({min(gaps)}); pick another SEED"
    ids = torch.tensor([prompt_ids + generated[:-1]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float().contiguous()
    save_file({"prompt_ids": torch.tensor(prompt_ids, dtype=torch.int64),
               "generated": torch.tensor(generated, dtype=torch.int64), "logits": logits},
              os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"prompt": PROMPT, "max_new_tokens": MAX_NEW_TOKENS, "eos_token_ids": eos,
                   "min_top2_gap": min(gaps), "transformers": transformers.__version__,
                   "torch": torch.__version__}, f, ensure_ascii=False)
    size = sum(os.path.getsize(os.path.join(model_dir, s)) for s in shards)
    print(f"qwen3-0.6b: {params} parameters, {len(shards)} shards, {size / 1e9:.2f} GB, written in {saved_s:.1f} s; "
          f"{len(prompt_ids)} prompt tokens, generated {generated} ({tokenizer.decode(generated)!r}), "
          f"greedy min top-2 gap {min(gaps):.4f}, max |logit| {logits.abs().max():.3f}; "
          f"{time.time() - start:.1f} s in all")


if __name__ == "__main__":
    main()
