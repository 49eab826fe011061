# Rollout channel: rollout actors (DEALER) <-> learner rank 0 (ROUTER). Actors ask for prompt
# leases (leaseRequest -> leaseGrant) and hand in trajectory batches (batch -> batchAck); see
# NOTE [Prompt leases] in learner/rlhf/prompt_ledger.h.
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
    leaseRequest @3 :LeaseRequest;   # since issue 11
    leaseGrant @4 :LeaseGrant;       # since issue 11
    batchAck @5 :BatchAck;           # since issue 11
    error @6 :Text;                  # since issue 11: the request was malformed or refused
  }
}

struct LeaseRequest {
  actorId @0 :UInt32;
  maxPrompts @1 :UInt32;
  policyVersion @2 :UInt64;   # the weights the actor holds now
}

struct Lease {
  leaseId @0 :UInt64;
  promptId @1 :UInt64;
  minVersion @2 :UInt64;      # generate with weights of at least this version
}

struct LeaseGrant {
  leases @0 :List(Lease);     # empty: nothing to do now (ask again after retryAfterMs)
  latestVersion @1 :UInt64;   # the learner's newest published weights
  finished @2 :Bool;          # the run is over: the actor exits
  retryAfterMs @3 :UInt32;
  leaseTimeoutMs @4 :UInt32;  # a lease not handed in within this is given to another actor
}

struct BatchAck {
  accepted @0 :UInt32;        # prompts whose trajectories were kept
  duplicates @1 :UInt32;      # prompts already complete (a re-leased copy): dropped
  rejected @2 :UInt32;        # unknown leases or samples too stale: dropped
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
  leaseIds @10 :List(UInt64);      # since issue 11: per sequence, the lease it answers
  goldRewards @11 :List(Float32);  # since issue 11: per sequence, the world's gold score (NaN if none)
  # since issue 11: the actor's seconds on this batch, by phase (metrics time/actor_*)
  generationSeconds @12 :Float32;
  rewardSeconds @13 :Float32;
  weightsSeconds @14 :Float32;
  # since issue 12: per sequence, the reward of its prompt's greedy response (ReMax's baseline);
  # empty when the actor did not score one
  baselineRewards @15 :List(Float32);
}
