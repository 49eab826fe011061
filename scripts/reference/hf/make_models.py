#!/usr/bin/env python3
"""Tiny random-weight models made with Hugging Face transformers' own classes, and their outputs.

Usage: make_models.py OUT_DIR

For each family (llama3: LlamaForCausalLM with llama3 rope scaling and untied embeddings;
qwen2.5: Qwen2ForCausalLM with q/k/v biases and tied embeddings; qwen3: Qwen3ForCausalLM with
q/k norms and head_dim != hidden / heads) writes
  OUT_DIR/<family>/single/     save_pretrained, one model.safetensors
  OUT_DIR/<family>/sharded/    save_pretrained with a small max_shard_size (several shards + index)
  OUT_DIR/<family>/reference.safetensors
      input_ids, attention_mask int64 [3, T] (row 0 unpadded, row 1 left-padded, row 2 right-padded)
      logits float32 [3, T, V] from the model's forward (zeros at padding)
  OUT_DIR/<family>/generate.json
      {"prompts": [[ids]], "generated": [[new ids]], "max_new_tokens", "eos_token_id",
       "min_top2_gap"}: generate(do_sample=False) on each prompt alone
and OUT_DIR/gram/: a tiny random Qwen3 judge with the real Qwen3 tokenizer, pairs.jsonl (for
`gramrl gram eval`) and reward_items.jsonl (the same pairs both ways, for the reward service). Runs offline: nothing is downloaded.
"""
import gzip
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
VOCAB = 512
MAX_NEW_TOKENS = 16


def common(**kw):
    base = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                initializer_range=0.1, bos_token_id=1, eos_token_id=2, rms_norm_eps=1e-6,
                torch_dtype="float32")
    base.update(kw)
    return base


FAMILIES = {
    # head_dim 16: eight frequencies over wavelengths 6.3 .. 1e5, original context 64: the llama3
    # scaling keeps the first, smooths the second and divides the rest by 8.
    "llama3": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
               common(rope_theta=500000.0, tie_word_embeddings=False, rms_norm_eps=1e-5,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 64})),
    "qwen2.5": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
                common(rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False)),
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM,
              common(rope_theta=1000000.0, tie_word_embeddings=False, head_dim=32, use_sliding_window=False)),
}


def perturb(model, seed):
    """transformers initialises norms to 1 and biases to 0; perturb them so that every parameter
    changes the output (a loader that dropped one would be caught)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith(".bias"):
                p.add_(torch.randn(p.shape, generator=g) * 0.2)


def make_inputs(seed, length=12):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (3, length), generator=g)
    mask = torch.ones(3, length, dtype=torch.long)
    mask[1, :3] = 0  # left padding
    mask[2, length - 4:] = 0  # right padding
    ids = ids.masked_fill(mask == 0, 0)
    return ids, mask


def make_family(out, family, seed):
    config_cls, model_cls, kw = FAMILIES[family]
    torch.manual_seed(seed)
    config = config_cls(**kw)
    config._attn_implementation = "eager"
    model = model_cls(config).eval()
    perturb(model, seed + 1)
    d = os.path.join(out, family)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(os.path.join(d, "single"))
    model.save_pretrained(os.path.join(d, "sharded"), max_shard_size="200KB")
    shards = [f for f in os.listdir(os.path.join(d, "sharded")) if f.endswith(".safetensors")]
    assert len(shards) > 1, f"{family}: expected several shards, got {shards}"

    ids, mask = make_inputs(seed + 2)
    # gramrl numbers the positions of each row's real tokens from 0; give transformers the same.
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
    logits = logits * mask.unsqueeze(-1)
    save_file({"input_ids": ids, "attention_mask": mask, "logits": logits.contiguous()},
              os.path.join(d, "reference.safetensors"))

    g = torch.Generator().manual_seed(seed + 3)
    prompts = [[1] + torch.randint(3, VOCAB, (n,), generator=g).tolist() for n in (4, 9, 1)]
    generated, gaps = [], []
    for p in prompts:
        with torch.no_grad():
            out_ids = model.generate(torch.tensor([p]), attention_mask=torch.ones(1, len(p), dtype=torch.long),
                                     max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=2,
                                     pad_token_id=0, output_scores=True, return_dict_in_generate=True)
        generated.append(out_ids.sequences[0, len(p):].tolist())
        for s in out_ids.scores:  # greedy is only reproducible where the top two logits differ
            top2 = s[0].topk(2).values
            gaps.append(float(top2[0] - top2[1]))
    min_gap = min(gaps)
    assert min_gap > 1e-4, f"{family}: near tie in greedy decoding ({min_gap}); pick another seed"
    with open(os.path.join(d, "generate.json"), "w") as f:
        json.dump({"prompts": prompts, "generated": generated, "max_new_tokens": MAX_NEW_TOKENS,
                   "eos_token_id": 2, "min_top2_gap": min_gap}, f)
    print(f"{family}: {sum(p.numel() for p in model.parameters())} parameters, {len(shards)} shards, "
          f"max |logit| {logits.abs().max():.3f}, greedy min top-2 gap {min_gap:.4f}")


GRAM_PAIRS = [
    {"prompt": "What is 2+2?", "chosen": "2 + 2 = 4.", "rejected": "5"},
    {"prompt": "Name a primary colour.", "chosen": "Red.", "rejected": "Purple, I think."},
    {"prompt": "Translate 'bonjour' to English.", "chosen": "Hello.", "rejected": "Goodbye."},
    {"prompt": "Write a haiku about rain.", "chosen": "Soft rain on the roof\nwhispers to the sleeping town\npuddles hold the sky",
     "rejected": "Rain is wet."},
    {"prompt": "Réponds en français : quelle est la capitale ?", "chosen": "Paris est la capitale de la France. 🇫🇷",
     "rejected": "I don't know."},
    {"prompt": "Sort 3 1 2", "chosen": "1 2 3", "rejected": "3 2 1"},
]


def make_gram_judge(out, seed):
    """A tiny random Qwen3 with the real Qwen3 tokenizer (tests/data/tokenizers/qwen3), so that
    the judge prompt, chat template and A/B label tokens are the real ones."""
    d = os.path.join(out, "gram")
    shutil.rmtree(d, ignore_errors=True)
    src = os.path.join(REPO, "tests", "data", "tokenizers", "qwen3")
    torch.manual_seed(seed)
    config = transformers.Qwen3Config(vocab_size=151936, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                      max_position_embeddings=4096, initializer_range=0.1, rope_theta=1000000.0,
                                      tie_word_embeddings=True, bos_token_id=151643, eos_token_id=151645,
                                      torch_dtype="float32", use_sliding_window=False)
    config._attn_implementation = "eager"
    model = transformers.Qwen3ForCausalLM(config).eval()
    perturb(model, seed + 1)
    model.save_pretrained(d)
    with gzip.open(os.path.join(src, "tokenizer.json.gz"), "rb") as f, open(os.path.join(d, "tokenizer.json"), "wb") as o:
        shutil.copyfileobj(f, o)
    shutil.copy(os.path.join(src, "tokenizer_config.json"), d)
    with open(os.path.join(d, "pairs.jsonl"), "w") as f:
        for p in GRAM_PAIRS:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    with open(os.path.join(d, "reward_items.jsonl"), "w") as f:  # for the reward service, both ways
        for p in GRAM_PAIRS:
            for response, reference in ((p["chosen"], p["rejected"]), (p["rejected"], p["chosen"])):
                row = {"prompt": p["prompt"], "response": response, "reference": reference}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"gram: judge in {d}, {len(GRAM_PAIRS)} pairs")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    for k, family in enumerate(FAMILIES):
        make_family(out, family, 100 * (k + 1))
    make_gram_judge(out, 1000)
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__}, f)


if __name__ == "__main__":
    main()
