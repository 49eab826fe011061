// The synthetic instruction-following world: the embedded default data of every stage (policy
// SFT, GRAM stage 1 and 2, evaluation, rule rewards, DPO tests), generated instead of downloaded.
// It reproduces the world of the project's toy-world feasibility study (a PyTorch prototype):
// six families, 40% correct responses, corruptions, an edit-distance gold score, and rev/inc held
// out of labeled data, so that a GRAM reward model's out-of-distribution generalisation can be
// measured at toy scale.
//
//   tasks.h        families, Task, parseTask, sampleTask
//   corruptions.h  the edits that make wrong responses
//   gold.h         Levenshtein and the gold score (the rule reward)
//   generators.h   WorldOptions and generate(kind, n, options)
//   rng.h          the counter-based rng; NOTE [World determinism]
#pragma once

#include "common/world/corruptions.h"
#include "common/world/generators.h"
#include "common/world/gold.h"
#include "common/world/rng.h"
#include "common/world/tasks.h"
