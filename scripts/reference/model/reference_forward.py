#!/usr/bin/python3
"""Float64 reference forward pass of Llama-3 / Qwen2.5 / Qwen3 decoders, for gramrl's model tests.

Written from the published architectures (Meta's Llama 3 reference code, Qwen2/Qwen3 model
cards and technical reports), independently of gramrl's C++ code and of Hugging Face's modeling
code. It shares nothing with them but the checkpoint format:

  * RMSNorm        x / sqrt(mean(x^2) + eps) * weight
  * RoPE           pairs (i, i + d/2) of each head rotated by position * inv_freq[i] (the
                   half-split layout of Hugging Face checkpoints), inv_freq[i] = theta^(-2i/d);
                   "llama3" scaling as Meta's apply_scaling()
  * attention      grouped-query, causal, softmax(q k^T / sqrt(d)); Qwen2 adds q/k/v biases,
                   Qwen3 RMS-normalises each q and k head before RoPE
  * MLP            down(silu(gate(x)) * up(x))
  * output         final RMSNorm, lm_head (or the embedding when tied), optional value head

Each row of the batch is computed on its own, unpadded (only the tokens where attention_mask is
1, positions 0..n-1), so the reference also checks how the C++ code handles padding.

Usage (Debian's python3 has torch; the `python3` on PATH may not):
  /usr/bin/python3 scripts/reference/model/reference_forward.py tests/data/model/llama [...]
Each directory holds config.json, model.safetensors and inputs.safetensors (input_ids,
attention_mask); reference.safetensors is written next to them with F64 tensors:
  logits [B, T, V]   (0 at padding positions)
  values [B, T]      (only with "gramrl_value_head": true; 0 at padding)
Safetensors is read and written with json + struct + torch.frombuffer (no safetensors package).
"""

import json
import math
import os
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        raw = bytearray(data[begin:end])
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().tobytes()  # little-endian on x86-64
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def inverse_frequencies(cfg, head_dim):
    theta = cfg.get("rope_theta", 10000.0)
    freqs = [1.0 / theta ** (2 * i / head_dim) for i in range(head_dim // 2)]
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "llama3":
        # Meta's llama3 apply_scaling().
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_context = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old_context / low, old_context / high
        scaled = []
        for f in freqs:
            wavelen = 2 * math.pi / f
            if wavelen < high_wavelen:
                scaled.append(f)
            elif wavelen > low_wavelen:
                scaled.append(f / factor)
            else:
                smooth = (old_context / wavelen - low) / (high - low)
                scaled.append((1 - smooth) * f / factor + smooth * f)
        freqs = scaled
    else:
        assert kind == "default", kind
    return torch.tensor(freqs, dtype=torch.float64)


def rms_norm(x, weight, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * weight


def rotate(x, positions, inv_freq):
    """x [n, heads, d]: rotate the pair (x[i], x[i + d/2]) by positions * inv_freq[i]."""
    half = x.shape[-1] // 2
    angle = positions[:, None].double() * inv_freq[None, :]  # [n, d/2]
    cos, sin = torch.cos(angle)[:, None, :], torch.sin(angle)[:, None, :]
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


def linear(x, w, prefix):
    y = x @ w[prefix + ".weight"].T
    bias = w.get(prefix + ".bias")
    return y if bias is None else y + bias


def sequence_forward(cfg, w, ids):
    """ids [n] -> final normed hidden [n, hidden] of one unpadded sequence."""
    hidden = cfg["hidden_size"]
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or hidden // heads
    eps = cfg["rms_norm_eps"]
    qk_norm = cfg["model_type"] == "qwen3"
    inv_freq = inverse_frequencies(cfg, head_dim)
    n = ids.shape[0]
    positions = torch.arange(n)
    causal = torch.tril(torch.ones(n, n, dtype=torch.bool))
    x = w["model.embed_tokens.weight"][ids]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, w, p + "self_attn.q_proj").reshape(n, heads, head_dim)
        k = linear(h, w, p + "self_attn.k_proj").reshape(n, kv_heads, head_dim)
        v = linear(h, w, p + "self_attn.v_proj").reshape(n, kv_heads, head_dim)
        if qk_norm:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = rotate(q, positions, inv_freq), rotate(k, positions, inv_freq)
        out = torch.empty(n, heads, head_dim, dtype=torch.float64)
        group = heads // kv_heads
        for head in range(heads):
            kv = head // group
            scores = q[:, head, :] @ k[:, kv, :].T / math.sqrt(head_dim)
            scores = scores.masked_fill(~causal, float("-inf"))
            out[:, head, :] = torch.softmax(scores, dim=-1) @ v[:, kv, :]
        x = x + linear(out.reshape(n, heads * head_dim), w, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, w, p + "mlp.gate_proj")
        up = linear(h, w, p + "mlp.up_proj")
        x = x + linear(gate * torch.sigmoid(gate) * up, w, p + "mlp.down_proj")
    return rms_norm(x, w["model.norm.weight"], eps)


def reference(directory):
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    assert cfg.get("hidden_act", "silu") == "silu"
    w = {name: t.double() for name, t in read_safetensors(os.path.join(directory, "model.safetensors")).items()}
    inputs = read_safetensors(os.path.join(directory, "inputs.safetensors"))
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    batch, length = ids.shape
    vocab = cfg["vocab_size"]
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    value_head = cfg.get("gramrl_value_head", False)
    logits = torch.zeros(batch, length, vocab, dtype=torch.float64)
    values = torch.zeros(batch, length, dtype=torch.float64)
    for b in range(batch):
        real = mask[b].nonzero().flatten()
        hidden = sequence_forward(cfg, w, ids[b, real])
        logits[b, real] = hidden @ head.T
        if value_head:
            values[b, real] = (hidden @ w["value_head.weight"].T).squeeze(-1) + w["value_head.bias"]
    out = {"logits": logits}
    if value_head:
        out["values"] = values
    write_safetensors(os.path.join(directory, "reference.safetensors"), out)
    print(f"{directory}: logits {list(logits.shape)}, max |logit| {logits.abs().max().item():.4f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for d in sys.argv[1:]:
        reference(d)
