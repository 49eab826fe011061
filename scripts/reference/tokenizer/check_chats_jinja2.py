#!/usr/bin/env python3
"""Cross-checks the chat renderings of tests/data/tokenizers/reference.json with Python's jinja2.

reference.json's chat texts come from @huggingface/jinja (JavaScript). Hugging Face transformers
(Python), vLLM and the models' training render the same templates with jinja2; this script renders
every chat of the fixture the way transformers' apply_chat_template does and fails on any
difference, so the fixture is pinned to both implementations.

It also checks PYTHON_ONLY: cases where @huggingface/jinja 0.5.11 differs from jinja2 (its
str.strip/lstrip/rstrip ignore their argument and strip all white space), which the fixture
leaves out and tests/common/tokenizer/chat_template_test.cc asserts with these same strings.

Usage: python3 scripts/reference/tokenizer/check_chats_jinja2.py [tests/data/tokenizers]
Needs only the jinja2 package (3.x).
"""
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

PYTHON_ONLY = [
    {
        "template": "qwen3",
        "user": "Hi",
        "assistant": "\n\n  Hello!  \n",
        "text": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
                "  Hello!  \n<|im_end|>\n",
    },
    {
        "template": "qwen3",
        "user": "Q",
        "assistant": "<think>\n  plan \n</think>\n  answer",
        "text": "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n  plan \n</think>\n\n"
                "  answer<|im_end|>\n",
    },
    {
        "template": "llama3",
        "user": "\x1c\u0085 hi \x1f",
        "text": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n",
    },
]


def environment():
    # As transformers.utils.chat_template_utils._compile_jinja_template builds it.
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../tests/data/tokenizers")
    env = environment()
    configs = {m: json.load(open(os.path.join(data, m, "tokenizer_config.json"))) for m in ("llama3.1", "qwen3")}
    sources = {
        "llama3": (configs["llama3.1"]["chat_template"], configs["llama3.1"], {}),
        "qwen3": (configs["qwen3"]["chat_template"], configs["qwen3"], {"enable_thinking": False}),
        "qwen2.5": (open(os.path.join(data, "qwen2.5_chat_template.jinja")).read(), configs["qwen3"], {}),
    }

    def render(chat):
        source, config, kwargs = sources[chat["template"]]
        messages = []
        if chat.get("system") is not None:
            messages.append({"role": "system", "content": chat["system"]})
        messages.append({"role": "user", "content": chat["user"]})
        if chat.get("assistant") is not None:
            messages.append({"role": "assistant", "content": chat["assistant"]})
        specials = {k: config.get(k) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
        return env.from_string(source).render(messages=messages, tools=None, documents=None,
                                              add_generation_prompt=chat.get("assistant") is None,
                                              **specials, **kwargs)

    reference = json.load(open(os.path.join(data, "reference.json")))
    failures = 0
    for chat in reference["chats"] + PYTHON_ONLY:
        text = render(chat)
        if text != chat["text"]:
            failures += 1
            print(f"MISMATCH {chat['template']} {chat.get('name', '(python only)')}:\n"
                  f"  jinja2:    {text!r}\n  expected:  {chat['text']!r}")
    total = len(reference["chats"]) + len(PYTHON_ONLY)
    print(f"jinja2 {jinja2.__version__}: {total - failures}/{total} chat renderings agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
