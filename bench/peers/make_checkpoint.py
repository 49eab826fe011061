#!/usr/bin/env python3
"""The random checkpoint and prompts that every peer in bench/peers/ runs on.

Usage: make_checkpoint.py OUT_DIR [--prompt-tokens 32] [--prompts 64] [--seed 7]

Writes OUT_DIR/model/: a random-weight LlamaForCausalLM made with transformers' own classes and
saved with save_pretrained (float32 safetensors), with Llama-3.1's tokenizer
(tests/data/tokenizers/llama3.1), so that gramrl, transformers and llama.cpp (after
convert_hf_to_gguf.py) all load the same files. The shape is Llama-3.2-1B's layout scaled down
(GQA 8/2 heads of 64, SwiGLU, tied embeddings, llama3 rope scaling): 90 M parameters, 66 M of
them the 128,256 x 512 embedding, which is also the output head, as in the small Llama-3.2s.

And OUT_DIR/prompts.jsonl ({"prompt": text} per line, for `gramrl generate --prompts`) with
OUT_DIR/prompts.json ({"ids": [[token ids]]}, for the Python peers): PROMPTS texts of English
words, each exactly PROMPT_TOKENS tokens with <|begin_of_text|>, checked to encode back to the
same ids, so that every peer prefills the same tokens. Runs offline.
"""
import argparse
import gzip
import json
import os
import random
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "reference", "hf"))
from make_models import perturb  # noqa: E402

TOKENIZER = os.path.join(REPO, "tests", "data", "tokenizers", "llama3.1")
WORDS = ("the of and to in is was for on that with as by at from his her it an were are which this be "
         "or has had first one their its new after but who not they have two been other time year all "
         "she also when there into school more city most some world many state only where team over may "
         "would people could work house water river music between under three small during long great "
         "part game south north light early while known later power film number story family old high").split()


def make_model(out, seed):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=128256, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
        num_attention_heads=8, num_key_value_heads=2, head_dim=64, max_position_embeddings=131072,
        # 0.1 rather than 0.02 widens the gaps between the top logits, so that greedy decoding
        # is decided by the model and not by float rounding (as in make_models.py).
        initializer_range=0.1, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
        rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192},
        bos_token_id=128000, eos_token_id=[128001, 128008, 128009], torch_dtype="float32")
    model = transformers.LlamaForCausalLM(config).eval()
    perturb(model, seed + 1)
    model.save_pretrained(out)
    with gzip.open(os.path.join(TOKENIZER, "tokenizer.json.gz"), "rb") as f, \
            open(os.path.join(out, "tokenizer.json"), "wb") as o:
        shutil.copyfileobj(f, o)
    shutil.copy(os.path.join(TOKENIZER, "tokenizer_config.json"), out)
    return sum(p.numel() for p in model.parameters())


def make_prompts(tok, count, length, seed):
    rng = random.Random(seed)
    texts, ids = [], []
    while len(texts) < count:
        words = [rng.choice(WORDS) for _ in range(2 * length)]
        words[0] = words[0].capitalize()
        enc = tok.encode(" ".join(words)).ids[:length]  # with <|begin_of_text|>
        text = tok.decode(enc, skip_special_tokens=True)
        if tok.encode(text).ids == enc:  # the cut must not merge differently when re-encoded
            texts.append(text)
            ids.append(enc)
    return texts, ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    model_dir = os.path.join(args.out, "model")
    shutil.rmtree(model_dir, ignore_errors=True)
    params = make_model(model_dir, args.seed)
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    texts, ids = make_prompts(tok, args.prompts, args.prompt_tokens, args.seed)
    with open(os.path.join(args.out, "prompts.jsonl"), "w") as f:
        for t in texts:
            f.write(json.dumps({"prompt": t}) + "\n")
    with open(os.path.join(args.out, "prompts.json"), "w") as f:
        json.dump({"ids": ids}, f)
    print(f"make_checkpoint: {params / 1e6:.1f} M parameters in {model_dir}; {len(ids)} prompts of "
          f"{args.prompt_tokens} tokens (transformers {transformers.__version__}, torch {torch.__version__})")


if __name__ == "__main__":
    main()
