// GRAM's label logits: the logits of the label tokens "A" and "B" at the last position of each
// judge prompt. The one computation behind both the judge that serves rewards (gram_judge.h) and
// the stage-2 objective that trains it (learner/gram/gram_finetune_objective.h).
//
// NOTE [One label-logit function]
// Training and serving read the judge's verdict from the same two logits; if the two computed them
// differently (another position, another padding side, a full softmax on one side) a model would
// be served on a quantity it was not trained on, silently. So both call labelLogits: the prompts
// are right-padded into one batch (a row's result does not depend on the padding or on the other
// rows, because attention is causal and padded positions come after the row's last token), one
// forward pass runs, and only the two unembedding rows are multiplied, at lastTokenPositions
// (selectedLogits). The margin z_A - z_B is what both sides use.
//
// Threads: as the model's forward() (transformer.h). Ownership: the prompts are read during the
// call only. Blocking: one forward pass. Throws nothing for well-formed input; an empty prompt
// list or an empty prompt is an InternalError (callers reject empty prompts as DataError first).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/Tensor.h>

namespace gramrl {
class Transformer;
}

namespace gramrl::gram {

// [rows, 2] float32 logits of (label_a, label_b) at the last token of each prompt, on the model's
// device, with autograd unless the caller holds a no-grad guard. Padding uses pad_id (any valid
// id: it never reaches a real position).
at::Tensor labelLogits(const Transformer& model, const std::vector<const std::vector<int64_t>*>& prompts,
                       int64_t label_a, int64_t label_b, int64_t pad_id = 0);

}  // namespace gramrl::gram
