#!/usr/bin/env python3
"""GRAM's pairwise scoring as the official evaluation code does it (NiuTrans/GRAM,
evaluation/gram_eval.py; ../shared/reference/gram-paper.md sections 1.2 and 1.3), with Hugging
Face transformers, written from that logic and not from gramrl's code:

  1. the judge prompt: the impartial-judge instruction, the question and the two answers in the
     official tags, then "#Preferred:" (the fine-tuning data's tail; gram_eval.py itself appends a
     trailing space, a train/test mismatch the notes describe; --tail changes it);
  2. the prompt is one user message, rendered with the tokenizer's own chat template and the
     generation prompt (Qwen3: enable_thinking=False), tokenised as the text it renders to;
  3. both orders of every pair in one left-padded batch of 2: logits of the last prompt position,
     only the entries of the one-token labels "A" and "B", a softmax over those two;
  4. debiasing: p1 = P(A) with the chosen response in slot A, p2 = P(B) with it in slot B,
     score(chosen) = (p1 + p2) / 2.

Usage: gram_official_score.py MODEL_DIR PAIRS.jsonl [--compare GRAMRL_SCORES.jsonl] [--tail T]
       gram_official_score.py MODEL_DIR - --compare-rewards REWARDS.jsonl

PAIRS.jsonl rows: {"prompt", "chosen", "rejected"}. Prints one JSON line per pair with
score_chosen and the views of gramrl's pair report: debiased = score_chosen - 0.5, chosen_in_a =
z_A - z_B (chosen in A), chosen_in_b = z_B - z_A (chosen in B). With --compare (the file
`gramrl gram eval --pair-scores` writes), checks instead that gramrl gives the same numbers:
|debiased| difference < 1e-5, logit margins < 1e-4; exit 1 otherwise. With --compare-rewards
(`gramrl reward score` output of the gram backend with transform probability: items {"prompt",
"response", "reference", "score"}), checks that every score is the official P(response beats
reference) to 1e-5.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

INSTRUCTION = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to "
    "the user question displayed below. You should choose the assistant that follows the user's instructions and "
    "answers the user's question better.\n"
    "Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and "
    "level of detail of their responses. Avoid any position biases and ensure that the order in which the responses "
    "were presented does not influence your decision. Do not allow the length of the responses to influence your "
    "evaluation. Do not favor certain names of the assistants. Be as objective as possible.\n"
    "Please directly output your final verdict by strictly following this format: \"A\" if assistant A is better, "
    "\"B\" if assistant B is better.\n\n"
)


def judge_prompt(question, a, b, tail):
    return (INSTRUCTION + f"[User Question]\n{question}\n\n"
            f"[The Start of Assistant A's Answer]\n{a}\n[The End of Assistant A's Answer]\n\n"
            f"[The Start of Assistant B's Answer]\n{b}\n[The End of Assistant B's Answer]\n\n" + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("pairs")
    ap.add_argument("--compare")
    ap.add_argument("--compare-rewards")
    ap.add_argument("--tail", default="#Preferred:")
    args = ap.parse_args()
    torch.set_num_threads(1)

    tok = transformers.AutoTokenizer.from_pretrained(args.model)
    tok.padding_side = "left"
    model = transformers.AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32,
                                                              attn_implementation="eager").eval()
    label_ids = []
    for label in ("A", "B"):
        ids = tok.encode(label, add_special_tokens=False)
        assert len(ids) == 1, f"label {label!r} is {len(ids)} tokens"
        label_ids.append(ids[0])
    kwargs = {"enable_thinking": False} if "enable_thinking" in (tok.chat_template or "") else {}

    def score(question, y1, y2):
        """The official scoring of y1 against y2: both orders in one batch, debiased."""
        texts = [tok.apply_chat_template([{"role": "user", "content": judge_prompt(question, a, b, args.tail)}],
                                         tokenize=False, add_generation_prompt=True, **kwargs)
                 for a, b in ((y1, y2), (y2, y1))]
        enc = tok(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            z = model(**enc).logits[:, -1, :][:, label_ids].float()  # [2 orders, (A, B)]
        probs = torch.softmax(z, dim=-1)
        p1, p2 = probs[0, 0].item(), probs[1, 1].item()
        s = (p1 + p2) / 2
        return {"score_chosen": s, "debiased": s - 0.5, "chosen_in_a": (z[0, 0] - z[0, 1]).item(),
                "chosen_in_b": (z[1, 1] - z[1, 0]).item()}

    if args.compare_rewards:  # the reward service: P(response beats reference), float32 on the wire
        failed, worst, n = False, 0.0, 0
        with open(args.compare_rewards, encoding="utf-8") as f:
            for k, line in enumerate(f):
                r = json.loads(line)
                want = score(r["prompt"], r["response"], r["reference"])["score_chosen"]
                d = abs(want - r["score"])
                worst, n = max(worst, d), n + 1
                if not d < 1e-5:
                    failed = True
                    print(f"item {k}: official logic {want:.8g}, gramrl reward service {r['score']:.8g}")
        print(f"{n} reward-service scores; max |difference| from the official logic {worst:.3g} (bound 1e-05)")
        sys.exit(1 if failed or n == 0 else 0)

    rows = []
    with open(args.pairs, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                p = json.loads(line)
                rows.append(score(p["prompt"], p["chosen"], p["rejected"]))
    if not args.compare:
        for r in rows:
            print(json.dumps(r))
        return
    with open(args.compare, encoding="utf-8") as f:
        ours = [json.loads(line) for line in f if line.strip()]
    if len(ours) != len(rows):
        sys.exit(f"gramrl scored {len(ours)} pairs, the official logic {len(rows)}")
    worst = {"debiased": 0.0, "chosen_in_a": 0.0, "chosen_in_b": 0.0}
    bounds = {"debiased": 1e-5, "chosen_in_a": 1e-4, "chosen_in_b": 1e-4}
    failed = False
    for k, (r, o) in enumerate(zip(rows, ours)):
        for view, bound in bounds.items():
            d = abs(r[view] - o["views"][view])
            worst[view] = max(worst[view], d)
            if not d < bound:
                failed = True
                print(f"pair {k}: {view}: official logic {r[view]:.8g}, gramrl {o['views'][view]:.8g}")
    def span(view):
        return max(r[view] for r in rows) - min(r[view] for r in rows)

    print(f"{len(rows)} pairs; official-logic P(chosen) spans {span('score_chosen'):.4f}, chosen_in_a "
          f"{span('chosen_in_a'):.4f}, chosen_in_b {span('chosen_in_b'):.4f}; max |difference|: "
          + ", ".join(f"{v} {d:.3g} (bound {bounds[v]:g})" for v, d in worst.items()))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
