#!/usr/bin/env python3
"""The tokenizer references of tests/data/tokenizers/reference.json, recomputed with Hugging Face's
Python stack: the Rust `tokenizers` library for encode, decode and pieces, and transformers'
`apply_chat_template` for the chats.

Usage: tokenizer_reference.py OUT.json

Reads the committed reference.json (made with transformers.js) for its inputs only (sample texts,
id sequences, chat messages), adds the committed text corpora (every string field of
tests/data/jsonl/*.jsonl) as extra samples, and writes a file of the same shape, which
tokenizer_test reads in place of reference.json when GRAMRL_TOKENIZER_REFERENCE names it. Prints
how many entries differ from the JavaScript reference (information: the C++ test is the check).
Runs offline.
"""
import gzip
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import tokenizers  # noqa: E402
import transformers  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DATA = os.path.join(REPO, "tests", "data", "tokenizers")
MODELS = ["qwen3", "llama3.1"]
# How each chat template of reference.json is rendered (as make_reference.mjs did).
TEMPLATES = {
    "llama3": ("llama3.1", {}, None),
    "qwen3": ("qwen3", {"enable_thinking": False}, None),
    "qwen2.5": ("qwen3", {}, "qwen2.5_chat_template.jinja"),
}


def corpus_texts():
    """Every string value (nested too) of the committed JSONL corpora, deduplicated, in order."""
    seen, out = set(), []
    d = os.path.join(REPO, "tests", "data", "jsonl")

    def walk(v, name):
        if isinstance(v, str):
            if v and v not in seen:
                seen.add(v)
                out.append({"name": f"corpus_{name}_{len(out)}", "text": v})
        elif isinstance(v, dict):
            for x in v.values():
                walk(x, name)
        elif isinstance(v, list):
            for x in v:
                walk(x, name)

    for f in sorted(os.listdir(d)):
        if f.endswith(".jsonl"):
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        walk(json.loads(line), f[: -len(".jsonl")])
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(os.path.join(DATA, "reference.json"), encoding="utf-8") as f:
        js = json.load(f)
    tmp = tempfile.mkdtemp()
    try:
        rust, hf = {}, {}
        for m in MODELS:
            d = os.path.join(tmp, m)
            os.makedirs(d)
            with gzip.open(os.path.join(DATA, m, "tokenizer.json.gz"), "rb") as fi, \
                    open(os.path.join(d, "tokenizer.json"), "wb") as fo:
                shutil.copyfileobj(fi, fo)
            for extra in ("tokenizer_config.json", "config.json", "generation_config.json"):
                shutil.copy(os.path.join(DATA, m, extra), d)
            rust[m] = tokenizers.Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            hf[m] = transformers.AutoTokenizer.from_pretrained(d)

        samples = []
        texts = [{"name": s["name"], "text": s["text"]} for s in js["samples"]] + corpus_texts()
        for t in texts:
            sample = dict(t)
            for m in MODELS:
                tok = rust[m]
                ids = tok.encode(t["text"], add_special_tokens=False).ids
                with_special = tok.encode(t["text"], add_special_tokens=True).ids
                decoded = tok.decode(ids, skip_special_tokens=False) if ids else ""
                entry = {"ids": ids}
                if decoded != t["text"]:
                    entry["decoded"] = decoded
                if with_special != ids:
                    entry["ids_with_special_tokens"] = with_special
                skipped = tok.decode(with_special, skip_special_tokens=True) if with_special else ""
                if skipped != decoded:
                    entry["decoded_skip_special"] = skipped
                if not t["name"].startswith("random_"):
                    entry["pieces"] = [tok.id_to_token(i) for i in ids]
                sample[m] = entry
            samples.append(sample)

        decodes = {}
        for m in MODELS:
            tok = rust[m]
            seqs = []
            for s in js["decodes"][m]["sequences"]:
                seqs.append({"ids": s["ids"], "text": tok.decode(s["ids"], skip_special_tokens=False),
                             "text_skip_special": tok.decode(s["ids"], skip_special_tokens=True)})
            decodes[m] = {"vocab_size": tok.get_vocab_size(with_added_tokens=True), "sequences": seqs}

        chats = []
        for c in js["chats"]:
            model, kwargs, template_file = TEMPLATES[c["template"]]
            tok = hf[model]
            if template_file:
                with open(os.path.join(DATA, template_file), encoding="utf-8") as f:
                    kwargs = dict(kwargs, chat_template=f.read())
            messages = []
            if "system" in c:
                messages.append({"role": "system", "content": c["system"]})
            messages.append({"role": "user", "content": c["user"]})
            if "assistant" in c:
                messages.append({"role": "assistant", "content": c["assistant"]})
            gen = "assistant" not in c
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen, **kwargs)
            ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=gen, **kwargs)
            entry = {k: v for k, v in c.items() if k not in ("text", "ids")}
            entry.update(text=text, ids=list(ids))
            chats.append(entry)
    finally:
        shutil.rmtree(tmp)

    js_samples = {s["name"]: s for s in js["samples"]}
    differ = sum(1 for s in samples if s["name"] in js_samples and
                 any(s[m]["ids"] != js_samples[s["name"]][m]["ids"] for m in MODELS))
    differ_chats = sum(1 for a, b in zip(chats, js["chats"]) if a["text"] != b["text"] or a["ids"] != b["ids"])
    differ_dec = sum(1 for m in MODELS for a, b in zip(decodes[m]["sequences"], js["decodes"][m]["sequences"])
                     if a["text"] != b["text"] or a["text_skip_special"] != b["text_skip_special"])
    out = {"generator": {"script": "scripts/reference/hf/tokenizer_reference.py",
                         "packages": {"tokenizers": tokenizers.__version__,
                                      "transformers": transformers.__version__}},
           "samples": samples, "decodes": decodes, "chats": chats}
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}: {len(samples)} samples "
          f"({len(samples) - len(js['samples'])} from tests/data/jsonl), {len(chats)} chats, "
          f"{sum(len(d['sequences']) for d in decodes.values())} decodes; differences from the transformers.js "
          f"reference: {differ} samples, {differ_chats} chats, {differ_dec} decodes")


if __name__ == "__main__":
    main()
