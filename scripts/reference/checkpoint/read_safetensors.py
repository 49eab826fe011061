#!/usr/bin/python3
"""Independent reader of gramrl's Hugging Face checkpoints, for checking the C++ writer.

Reads safetensors files with nothing but json, struct and torch.frombuffer, applying the checks of
the reference implementation (huggingface/safetensors, tensor.rs `read_metadata` and
`Metadata::validate`) and of transformers' loader (`__metadata__.format` must be "pt"; a sharded
checkpoint's weight_map must name, for every tensor, the shard that holds it), then compares every
tensor with the values the C++ side printed.

How to run (Debian's /usr/bin/python3 has torch 1.13; the `python3` first on PATH may not):

    cmake --build <build> --target checkpoint_sample_writer
    <build>/tests/common/checkpoint/checkpoint_sample_writer /tmp/ckpt-sample
    /usr/bin/python3 scripts/reference/checkpoint/read_safetensors.py /tmp/ckpt-sample

The sample directory holds single/ and sharded/ checkpoints and expected.json (see
tests/common/checkpoint/checkpoint_sample_writer.cc). Any checkpoint directory or .safetensors file
can also be given with --dump to print what it holds. Exit status 0 when everything matches.
"""

import argparse
import json
import os
import struct
import sys

import torch

MAX_HEADER_SIZE = 100_000_000  # the reference implementation's cap
DTYPES = {
    "BOOL": (torch.bool, 1),
    "U8": (torch.uint8, 1),
    "I8": (torch.int8, 1),
    "I16": (torch.int16, 2),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I32": (torch.int32, 4),
    "F32": (torch.float32, 4),
    "F64": (torch.float64, 8),
    "I64": (torch.int64, 8),
}
# Families transformers maps config.json's model_type to (AutoConfig / AutoModelForCausalLM).
ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}


class FormatError(Exception):
    pass


def read_safetensors(path):
    """Returns (tensors: dict name -> torch.Tensor, metadata: dict) or raises FormatError."""
    with open(path, "rb") as f:
        buffer = f.read()
    if len(buffer) < 8:
        raise FormatError(f"{path}: shorter than 8 bytes")
    (n,) = struct.unpack("<Q", buffer[:8])
    if n > MAX_HEADER_SIZE or 8 + n > len(buffer):
        raise FormatError(f"{path}: header length {n} is invalid for a {len(buffer)}-byte file")
    text = buffer[8 : 8 + n].decode("utf-8")  # raises on invalid UTF-8, as the reference does
    if not text.startswith("{"):
        raise FormatError(f"{path}: header does not start with '{{'")
    header = json.loads(text)
    metadata = header.pop("__metadata__", None)
    data = bytearray(buffer[8 + n :])  # writable, so torch.frombuffer does not warn

    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    start = 0
    tensors = {}
    for name, info in entries:
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise FormatError(f"{path}: tensor {name}: fields {sorted(info)}")
        dtype, size = DTYPES[info["dtype"]]
        shape = info["shape"]
        begin, end = info["data_offsets"]
        if begin != start or end < begin:
            raise FormatError(f"{path}: tensor {name}: offsets [{begin}, {end}] do not follow {start}")
        numel = 1
        for d in shape:
            numel *= d
        if end - begin != numel * size:
            raise FormatError(f"{path}: tensor {name}: {end - begin} bytes for shape {shape} of {info['dtype']}")
        if (8 + n + begin) % size != 0:
            raise FormatError(f"{path}: tensor {name}: data not aligned to {size} bytes")
        if numel == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(data, dtype=dtype, count=numel, offset=begin).reshape(shape)
        start = end
    if start != len(data):
        raise FormatError(f"{path}: tensors end at {start}, the data area holds {len(data)} bytes")
    if n % 8 != 0:
        raise FormatError(f"{path}: header length {n} is not a multiple of 8 (gramrl pads it)")
    return tensors, metadata or {}


def read_checkpoint_dir(directory):
    """Loads a checkpoint directory the way transformers' from_pretrained finds its files."""
    single = os.path.join(directory, "model.safetensors")
    index_path = os.path.join(directory, "model.safetensors.index.json")
    files = []
    if os.path.isfile(single):
        files = [("model.safetensors", None)]
    elif os.path.isfile(index_path):
        with open(index_path) as f:
            index = json.load(f)
        weight_map = index["weight_map"]
        for shard in sorted(set(weight_map.values())):
            files.append((shard, {k for k, v in weight_map.items() if v == shard}))
        total = index.get("metadata", {}).get("total_size")
    else:
        raise FormatError(f"{directory}: neither model.safetensors nor model.safetensors.index.json")
    tensors = {}
    for name, listed in files:
        part, metadata = read_safetensors(os.path.join(directory, name))
        if metadata.get("format") != "pt":
            raise FormatError(f"{name}: __metadata__.format is {metadata.get('format')!r}; transformers needs 'pt'")
        if listed is not None and set(part) != listed:
            raise FormatError(f"{name}: holds {sorted(part)}, the index lists {sorted(listed)}")
        for key in part:
            if key in tensors:
                raise FormatError(f"tensor {key} is in two files")
        tensors.update(part)
    if len(files) > 1 and total is not None:
        actual = sum(t.numel() * t.element_size() for t in tensors.values())
        if actual != total:
            raise FormatError(f"index total_size {total} != {actual}")
    return tensors, [name for name, _ in files]


def check_config(directory, expected):
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    model_type = config["model_type"]
    problems = []
    if ARCHITECTURES.get(model_type) != config["architectures"][0]:
        problems.append(f"architectures {config['architectures']} for model_type {model_type}")
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "max_position_embeddings"):
        if not isinstance(config.get(key), int) or config[key] <= 0:
            problems.append(f"{key} = {config.get(key)!r}")
    if config.get("hidden_act") != "silu":
        problems.append(f"hidden_act = {config.get('hidden_act')!r}")
    for key in ("model_type", "head_dim"):
        if config.get(key) != expected["config"].get(key):
            problems.append(f"{key} = {config.get(key)!r}, expected {expected['config'].get(key)!r}")
    if config["architectures"][0] != expected["config"]["architecture"]:
        problems.append(f"architectures = {config['architectures']}")
    return problems


def compare(tensors, expected):
    problems = []
    if set(tensors) != set(expected["tensors"]):
        problems.append(f"names differ: {sorted(set(tensors) ^ set(expected['tensors']))}")
    for name, want in expected["tensors"].items():
        if name not in tensors:
            continue
        t = tensors[name]
        dtype, _ = DTYPES[want["dtype"]]
        if t.dtype != dtype or list(t.shape) != want["shape"]:
            problems.append(f"{name}: {t.dtype} {list(t.shape)}, expected {dtype} {want['shape']}")
            continue
        values = t.to(torch.float64).flatten().tolist()
        if values != [float(v) for v in want["values"]]:
            problems.append(f"{name}: values differ: {values[:4]}... vs {want['values'][:4]}...")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", help="sample directory (with expected.json), checkpoint directory or .safetensors file")
    parser.add_argument("--dump", action="store_true", help="print the tensors instead of comparing")
    args = parser.parse_args()

    if args.dump:
        if os.path.isfile(args.path):
            tensors, metadata = read_safetensors(args.path)
            print(f"__metadata__: {metadata}")
        else:
            tensors, files = read_checkpoint_dir(args.path)
            print(f"files: {files}")
        for name, t in sorted(tensors.items()):
            print(f"{name}: {t.dtype} {list(t.shape)} {t.flatten()[:6].tolist()}")
        return 0

    with open(os.path.join(args.path, "expected.json")) as f:
        expected = json.load(f)
    failures = 0
    for variant in ("single", "sharded"):
        directory = os.path.join(args.path, variant)
        try:
            tensors, files = read_checkpoint_dir(directory)
            problems = check_config(directory, expected) + compare(tensors, expected)
        except (FormatError, KeyError, ValueError) as e:
            problems = [f"{type(e).__name__}: {e}"]
            files = []
        status = "OK" if not problems else "FAILED"
        print(f"{variant}: {status}: {len(files)} file(s) {files}, {len(expected['tensors'])} tensors compared")
        for p in problems:
            print(f"  {p}")
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
