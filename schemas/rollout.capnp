# Rollout channel: rollout actors (PUSH) -> learner ranks (PULL).
# Token ids cross here (the learner shares the policy's tokenizer). Sequences are stored
# column-wise and concatenated, so a batch is a handful of flat arrays, not one object per token.
@0x99c237ac246f5e1f;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("gramrl::wire");

struct RolloutMessage {
  seq @0 :UInt64;
  union {
    batch @1 :TrajectoryBatch;
    endOfStream @2 :Void;   # the actor has no more prompts
  }
}

enum FinishReason {
  stopToken @0;   # a stop token was sampled
  maxTokens @1;   # max_new_tokens reached
  aborted @2;     # the actor was told to stop mid-sequence
}

# n sequences. For sequence i: its prompt is promptLengths[i] tokens and its response
# responseLengths[i] tokens; `tokens` holds prompt then response for sequence 0, then 1, ...;
# `behaviourLogprobs` holds one value per response token, in the same order.
# Invariants (checked by readers): every per-sequence list has n entries;
# len(tokens) = sum(promptLengths) + sum(responseLengths);
# len(behaviourLogprobs) = sum(responseLengths).
struct TrajectoryBatch {
  actorId @0 :UInt32;
  policyVersion @1 :UInt64;    # the weights version that generated every sequence in the batch
  promptIds @2 :List(UInt64);  # index of the prompt in the dataset (samples of one prompt share it)
  sampleIndex @3 :List(UInt32);
  promptLengths @4 :List(UInt32);
  responseLengths @5 :List(UInt32);
  tokens @6 :List(Int32);
  behaviourLogprobs @7 :List(Float32);
  rewards @8 :List(Float32);   # one scalar per sequence, from the reward service
  finishReasons @9 :List(FinishReason);
}
