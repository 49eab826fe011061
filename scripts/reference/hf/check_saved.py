#!/usr/bin/env python3
"""Loads the checkpoints gramrl saved (hf_model_test writes them) with transformers'
from_pretrained and checks that they give transformers' reference logits of the original models.

Usage: check_saved.py REF_DIR

For each family of make_models.py and each REF_DIR/<family>/gramrl_saved/{single,sharded}:
AutoModelForCausalLM.from_pretrained (float32, offline), the forward on reference.safetensors'
inputs, and max |logits - reference logits| over the real tokens must be < 1e-5 (the weights are
the same floats; only the summation order of the two runs can differ). Exit 1 on any failure.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

FAMILIES = ["llama3", "qwen2.5", "qwen3"]
TOL = 1e-5


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    failed = 0
    for family in FAMILIES:
        ref = load_file(os.path.join(sys.argv[1], family, "reference.safetensors"))
        ids, mask = ref["input_ids"], ref["attention_mask"]
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        for kind in ("single", "sharded"):
            d = os.path.join(sys.argv[1], family, "gramrl_saved", kind)
            model = transformers.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32,
                                                                      attn_implementation="eager").eval()
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
            diff = ((logits - ref["logits"]).abs() * mask.unsqueeze(-1)).max().item()
            ok = diff < TOL
            failed += not ok
            print(f"{family} {kind}: {type(model).__name__} from gramrl's checkpoint, max |logits - reference| "
                  f"{diff:.3g} {'ok' if ok else f'FAILED (bound {TOL})'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
